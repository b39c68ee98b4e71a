"""deploy/ is documentation that runs: its example settings load, and nginx, systemd and the
settings agree on the path, the port and the command, so the files cannot silently rot."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bot.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    for key in list(os.environ):
        if key.startswith("RECTBOT_"):
            monkeypatch.delenv(key)


def test_example_settings_load_and_nginx_forwards_their_webhook() -> None:
    settings = load_settings(DEPLOY / "rectbot.example.toml")
    assert settings.telegram.mode == "webhook" and settings.webhook.secret_token is not None
    assert settings.webhook.url is not None
    hook = urlparse(settings.webhook.url)
    nginx = (DEPLOY / "nginx-rectbot.conf").read_text(encoding="utf-8")
    assert hook.scheme == "https"
    assert re.search(rf"server_name\s+{re.escape(hook.hostname or '')};", nginx)
    assert re.search(rf"location = {re.escape(hook.path)} \{{", nginx)
    assert f"proxy_pass http://{settings.webhook.listen}:{settings.webhook.port};" in nginx


def test_systemd_unit_runs_the_installed_command_with_the_settings_file() -> None:
    unit = (DEPLOY / "rectbot.service").read_text(encoding="utf-8")
    starts = dict(re.findall(r"^(ExecStart(?:Pre)?)=(.+)$", unit, flags=re.MULTILINE))
    assert starts["ExecStart"].endswith(" run") and starts["ExecStartPre"].endswith(" db upgrade")
    for command in starts.values():
        assert "--config /etc/rectbot/rectbot.toml" in command
    settings = load_settings(DEPLOY / "rectbot.example.toml")
    writable = re.search(r"^ReadWritePaths=(.+)$", unit, flags=re.MULTILINE)
    assert writable is not None
    for path in (settings.storage.database.parent, settings.storage.files):
        assert str(path).startswith(writable.group(1).strip()), path
