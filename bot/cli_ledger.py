"""Placeholder: CLI subcommands added by the feature that owns this module."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    return None
