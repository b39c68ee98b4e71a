"""The wiring promises of docs/ARCHITECTURE.md, checked on the code itself."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from bot.bootstrap import WINDOWED_KINDS, build_renderers, history_labels
from bot.domain import Decision, Kind

ROOT = Path(__file__).resolve().parent.parent
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b")


def _sources(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


def test_registry_from_the_composition_root_alone_renders_every_kind() -> None:
    """A fresh interpreter that imports only bot.bootstrap gets a renderer for every kind."""
    code = (
        "import json, sys; from pathlib import Path; from bot.bootstrap import build_renderers;"
        "r = build_renderers(Path('files'));"
        "print(json.dumps({'kinds': sorted(str(k) for k in r.renderers), 'windowed': sorted(r.windowed_kinds),"
        " 'handlers_loaded': any(m.startswith('handlers') for m in sys.modules)}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    assert found["kinds"] == sorted(str(k) for k in Kind)
    assert found["windowed"] == sorted(str(k) for k in WINDOWED_KINDS)
    assert not found["handlers_loaded"]  # nothing Telegram-facing was needed to know the renderers


def _enqueued_kinds() -> list[tuple[str, str]]:
    """(where, kind expression) of every Notification(...) built in bot/: the kinds the code can enqueue."""
    found = []
    for path in _sources("bot"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Notification":
                kind = next((k.value for k in node.keywords if k.arg == "kind"), None)
                if kind is None and len(node.args) >= 3:
                    kind = node.args[2]
                assert kind is not None, f"{path}:{node.lineno}: a Notification without a kind"
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", ast.unparse(kind)))
    return found


def test_every_kind_the_code_enqueues_is_a_kind_with_a_renderer() -> None:
    registry = build_renderers(Path("files"))
    enqueued = _enqueued_kinds()
    assert len(enqueued) >= 10  # the scan really sees the feature modules
    for where, expr in enqueued:
        match = re.fullmatch(r"Kind\.([A-Z_]+)", expr)
        assert match, f"{where}: kind {expr} is not a bot.domain.Kind member"
        assert registry.get(Kind[match.group(1)].value) is not None, f"{where}: {expr} has no renderer"


def test_an_unknown_stored_kind_has_no_renderer() -> None:
    assert build_renderers(Path("files")).get("kind_of_a_future_version") is None


def test_every_audited_case_action_has_a_history_label() -> None:
    """Every action audited on a case reads as words in /case, never as its code."""
    labels = history_labels()
    written = set()
    for path in _sources("bot"):
        written |= set(re.findall(r'action="([a-z_.]+)",\s*entity="case"', path.read_text(encoding="utf-8")))
    assert len(written) >= 10, "the scan found too few audited case actions"
    written |= {f"case.review.{d}" for d in Decision}  # written as f"case.review.{choice.value}"
    written |= {"case.receipt_acknowledged", "case.receipt_recorded"}  # passed to _record_receipt
    missing = sorted(a for a in written if a not in labels)
    assert not missing, f"case actions without a history label: {missing}"


def test_no_sql_outside_storage() -> None:
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in _sources("bot", "handlers")
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if SQL.search(line)]
    assert offenders == []


def test_no_module_registers_renderers_or_labels_at_import_time() -> None:
    pattern = re.compile(r"^@renderer\(|HISTORY_ACTIONS|\.setdefault\(_action", re.M)
    assert [str(p.relative_to(ROOT)) for p in _sources("bot", "handlers") if pattern.search(p.read_text())] == []

