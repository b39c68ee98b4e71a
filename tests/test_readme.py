"""The README is the newcomer's manual: its configuration reference, its TOML examples and its
commands must stay true to the code, so they are checked here instead of drifting."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from bot.settings import Settings, load_settings
from bot.workcalendar import parse_year_toml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("RECTBOT_"):
            monkeypatch.delenv(key)


def _reference_rows() -> dict[str, str]:
    """setting name → default cell, from the Configuration reference table (`a` / `b` rows split)."""
    section = README.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([a-z_]+\.[a-z_]+)`", cells[0])
        defaults = [d.strip() for d in cells[1].split(" / ")] if len(names) > 1 else [cells[1]]
        for name, default in zip(names, defaults, strict=True):
            rows[name] = default
    return rows


def _settings_fields() -> dict[str, object]:
    fields: dict[str, object] = {}
    defaults = Settings.model_construct()
    for section_name in Settings.model_fields:
        section = getattr(defaults, section_name)
        assert isinstance(section, BaseModel)
        for key in type(section).model_fields:
            fields[f"{section_name}.{key}"] = getattr(section, key)
    return fields


def _as_written(value: object) -> str:
    if value is None or isinstance(value, SecretStr):
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Path):
        return f"./{value}"
    return str(value)


def test_the_configuration_reference_lists_every_setting_and_nothing_else() -> None:
    rows, fields = _reference_rows(), _settings_fields()
    assert sorted(set(fields) - set(rows)) == [], "settings missing from README's reference"
    assert sorted(set(rows) - set(fields)) == [], "README names settings that do not exist"


def test_the_configuration_reference_gives_the_real_defaults() -> None:
    rows, fields = _reference_rows(), _settings_fields()
    wrong = {name: (rows.get(name), _as_written(value)) for name, value in fields.items()
             if name not in rows or (not rows[name].strip("`").startswith(_as_written(value).strip("`"))
             and not (rows[name].startswith("—") and _as_written(value) == "—"))}
    assert wrong == {}


def _toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", README, flags=re.S)


def test_every_toml_example_in_the_readme_loads(tmp_path: Path) -> None:
    blocks = _toml_blocks()
    heredocs = re.findall(r"<<'TOML'\n(.*?)\nTOML", README, flags=re.S)
    assert len(blocks) >= 2 and heredocs
    for i, text in enumerate(blocks + heredocs):
        if re.search(r"^year\s*=", text, flags=re.M):
            schedule = parse_year_toml(text)
            assert schedule.year >= 2027
            continue
        path = tmp_path / f"example{i}.toml"
        path.write_text(text, encoding="utf-8")
        settings = load_settings(path)
        assert settings.telegram.token is not None


def test_the_readme_webhook_example_matches_the_deploy_files() -> None:
    example = next(b for b in _toml_blocks() if 'mode = "webhook"' in b)
    url = re.search(r'url = "https://[^/"]+(/[^"]*)"', example)
    port = re.search(r"port = (\d+)", example)
    assert url and port
    nginx = (ROOT / "deploy" / "nginx-rectbot.conf").read_text(encoding="utf-8")
    assert f"location = {url.group(1)} " in nginx
    assert f"proxy_pass http://127.0.0.1:{port.group(1)};" in nginx
    assert f"location = {url.group(1)} {{ proxy_pass http://127.0.0.1:{port.group(1)}; }}" in README


def test_the_two_first_commands_exist_and_are_executable() -> None:
    first = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(\./scripts/\w+)", first, flags=re.M)
    assert commands == ["./scripts/demo", "./scripts/test"]
    for command in commands:
        script = ROOT / command
        assert script.is_file() and os.access(script, os.X_OK)
