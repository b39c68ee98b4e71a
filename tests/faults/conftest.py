"""Fixtures of the fault suite: the sandbox, rectbot processes, and the figures each test measured."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import SandboxServer
from tests.e2e.harness import RectbotProcess

FIGURES_FILE = Path(__file__).with_name(".last-figures.json")
Factory = Callable[..., RectbotProcess]
Figures = dict[str, Any]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server
        assert server.internal_errors == [], server.internal_errors


@pytest.fixture
def rectbot(tmp_path: Path, sandbox: SandboxServer, request: pytest.FixtureRequest) -> Iterator[Factory]:
    """rectbot(settings) → a RectbotProcess (not started) with its own config and database."""
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
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for proc in made:
            print(f"--- rectbot log ({proc.workdir}) ---\n{proc.log()[-6000:]}")


@pytest.fixture
def figures(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Figures]:
    """What the test measured, kept whatever `-s` says: written to the test's tmp dir and merged into
    tests/faults/.last-figures.json (git-ignored) under the test's name, so a run can be quoted."""
    found: Figures = {}
    started = time.monotonic()
    yield found
    found["wall_seconds"] = round(time.monotonic() - started, 1)
    report = getattr(request.node, "rep_call", None)
    found["passed"] = bool(report is not None and report.passed)
    (tmp_path / "figures.json").write_text(json.dumps(found, indent=2, ensure_ascii=False), encoding="utf-8")
    # Each xdist worker merges its own tests; the lock file keeps two workers from interleaving.
    lock = FIGURES_FILE.with_suffix(".lock")
    deadline = time.monotonic() + 10
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                lock.unlink(missing_ok=True)
            time.sleep(0.05)
    try:
        try:
            merged = json.loads(FIGURES_FILE.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            merged = {}
        merged[request.node.name] = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **found}
        FIGURES_FILE.write_text(json.dumps(merged, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)
    print(f"\nfigures {request.node.name}: {json.dumps(found, ensure_ascii=False)}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
