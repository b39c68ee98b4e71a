"""Placeholder: filled in by the feature that owns this journey."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, ContextTypes


def handlers() -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, object]]:
    return []
