from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import SandboxServer
from tests.e2e.harness import RectbotProcess

Factory = Callable[..., RectbotProcess]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server
        if os.environ.get("RECTBOT_E2E_TRANSCRIPT"):  # read what users saw: RECTBOT_E2E_TRANSCRIPT=1 pytest -s
            for m in server.messages():
                print(f"--- to {m.chat_id} #{m.message_id}: {m.text or m.caption or ''}  {m.buttons or ''}")
        assert server.internal_errors == [], server.internal_errors


@pytest.fixture
def rectbot(tmp_path: Path, sandbox: SandboxServer, request: pytest.FixtureRequest) -> Iterator[Factory]:
    """rectbot(**sections) → a RectbotProcess (not started) with its own config and database."""
    made: list[RectbotProcess] = []

    def make(settings: Mapping[str, Mapping[str, Any]] | None = None, name: str = "bot") -> RectbotProcess:
        workdir = tmp_path / name
        workdir.mkdir()
        proc = RectbotProcess(workdir, sandbox, settings or {})
        made.append(proc)
        return proc

    yield make
    for proc in made:
        proc.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for proc in made:
            print(f"--- rectbot log ({proc.workdir}) ---\n{proc.log()[-6000:]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
