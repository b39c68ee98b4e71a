"""Settings: a TOML file overridden by RECTBOT_<SECTION>__<KEY> environment variables.

Every problem is reported as one line naming the setting, so a bureau IT person can fix it
without reading a traceback (the CLI turns ConfigError into exit code 2).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from bot.errors import Listing, Msg, StartupError, os_error_reason
from bot.i18n import N_
from bot.logs import LogFormat

DEFAULT_CONFIG = Path("rectbot.toml")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _int_list(value: Any) -> Any:
    """Accept a JSON list or "1, 2, 3" from an environment variable."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, int):
        return [value]
    return value


def _parse_hhmm(value: str) -> time:
    m = _HHMM.match(value.strip())
    if not m:
        raise ValueError("expected HH:MM")
    return time(int(m.group(1)), int(m.group(2)))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TelegramSettings(_Section):
    token: SecretStr | None = None
    api_url: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"

    @field_validator("api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("expected an http(s) URL")
        return v.rstrip("/")

    @property
    def base_url(self) -> str:
        return f"{self.api_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.api_url}/file/bot"


class WebhookSettings(_Section):
    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=1, le=65535)
    url: str | None = None
    secret_token: SecretStr | None = None


class StorageSettings(_Section):
    database: Path = Path("rectbot.db")
    files: Path = Path("rectbot-files")


class BureauSettings(_Section):
    name: str = "海盐县财政局"
    timezone: str = "Asia/Shanghai"
    admins: Annotated[list[int], NoDecode] = Field(default_factory=list)

    _split = field_validator("admins", mode="before")(classmethod(lambda cls, v: _int_list(v)))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class RemindersSettings(_Section):
    send_window: str = "09:00-17:30"
    working_days_only: bool = True
    sweep_seconds: int = Field(60, ge=1, le=86400)
    before_due_working_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [10, 3, 1, 0])
    overdue_every_working_days: int = Field(3, ge=1, le=365)

    _split = field_validator("before_due_working_days", mode="before")(
        classmethod(lambda cls, v: _int_list(v))
    )

    @field_validator("send_window")
    @classmethod
    def _window(cls, v: str) -> str:
        parts = v.split("-")
        if len(parts) != 2:
            raise ValueError("expected HH:MM-HH:MM")
        try:
            start, end = (_parse_hhmm(p) for p in parts)
        except ValueError:  # a bad half: the whole window's form is the useful answer, not HH:MM
            raise ValueError("expected HH:MM-HH:MM") from None
        if start >= end:
            raise ValueError("window start must be before its end")
        return v

    @field_validator("before_due_working_days")
    @classmethod
    def _non_negative(cls, v: list[int]) -> list[int]:
        if any(x < 0 for x in v):
            raise ValueError("working days must be 0 or more")
        return sorted(set(v), reverse=True)

    @property
    def window(self) -> tuple[time, time]:
        start, end = self.send_window.split("-")
        return _parse_hhmm(start), _parse_hhmm(end)


class EscalationSettings(_Section):
    digest_time: str = "08:30"
    levels: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [1, 10])

    _split = field_validator("levels", mode="before")(classmethod(lambda cls, v: _int_list(v)))

    @field_validator("digest_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        _parse_hhmm(v)
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[int]) -> list[int]:
        if len(v) != 2 or not 1 <= v[0] < v[1]:
            raise ValueError("expected two increasing working-day counts, e.g. [1, 10]")
        return v

    @property
    def digest_at(self) -> time:
        return _parse_hhmm(self.digest_time)


class InvitationSettings(_Section):
    valid_days: int = Field(7, ge=1, le=365)


class LadderSettings(_Section):
    """The three-colour 督办 ladder: 蓝 within `blue_working_days` of the deadline, 黄 overdue, 红 level 2."""

    blue_working_days: int = Field(5, ge=0, le=60)
    refresh_seconds: int = Field(300, ge=1, le=86400)  # how often colour changes are looked for and recorded


class RankingSettings(_Section):
    """The ranking score (docs/STATISTICS.md), in the manner of published 督查督办考核细则: 100 less deductions."""

    base: float = Field(100.0, ge=0, le=1000)
    per_rate_point: float = Field(0.5, ge=0, le=100)       # per percentage point of 按期整改率 below 100
    per_overdue_case: float = Field(2.0, ge=0, le=100)
    per_return: float = Field(1.0, ge=0, le=100)           # per 退回补充
    per_inadequate: float = Field(2.0, ge=0, le=100)       # per 整改不到位
    per_refused: float = Field(5.0, ge=0, le=100)          # per 拒不整改
    per_falsely_reported: float = Field(5.0, ge=0, le=100)  # per 虚报
    min_cases: int = Field(3, ge=0, le=10000)              # fewer reports due than this: listed, not ranked
    explain_bottom: int = Field(3, ge=0, le=100)           # art. 29: the bottom N explain (0 = off)
    explain_working_days: int = Field(10, ge=1, le=365)    # the deadline of that explanation


class LoggingSettings(_Section):
    """How `rectbot run` writes its log to stderr: text for people, json (one object a line) for collectors."""

    format: LogFormat = "text"


class TestingSettings(_Section):
    """For demos and end-to-end tests only: start the clock at a fixed instant.

    clock_file: a file whose instant (see bot.clock.FileClock) the clock follows, so the demo moves
    simulated days forward without restarting the bot; clock_start is the time until it exists.
    chat_interval: seconds between two sends to one private chat instead of Telegram's limit (1.05);
    only against the loopback sandbox, which has no flood limits (the demo sets 0.05).
    """

    clock_start: str | None = None
    clock_file: str | None = None
    chat_interval: float | None = Field(None, ge=0, le=10)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RECTBOT_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    bureau: BureauSettings = Field(default_factory=BureauSettings)
    reminders: RemindersSettings = Field(default_factory=RemindersSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    invitations: InvitationSettings = Field(default_factory=InvitationSettings)
    ladder: LadderSettings = Field(default_factory=LadderSettings)
    ranking: RankingSettings = Field(default_factory=RankingSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    testing: TestingSettings = Field(default_factory=TestingSettings)

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> Settings:
        if self.telegram.mode == "webhook" and not self.webhook.url:
            raise ValueError("webhook.url is required when telegram.mode = webhook")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def masked(self) -> dict[str, Any]:
        """Effective settings for display; secrets never leave unmasked."""
        data = self.model_dump(mode="json")
        for section, key in (("telegram", "token"), ("webhook", "secret_token")):
            value = getattr(getattr(self, section), key)
            data[section][key] = _mask(value.get_secret_value()) if value else None
        return data


def _mask(secret: str) -> str:
    if len(secret) <= 8:
        return "****"
    return "****" + secret[-2:]


def _describe(exc: ValidationError) -> tuple[str, Msg | str]:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "settings"
    if err["type"] == "value_error":
        return loc, Msg(str(err.get("ctx", {}).get("error", err["msg"])))
    if err["type"] in _REASONS:
        return loc, Msg(_REASONS[err["type"]])
    return loc, str(err["msg"])


def _field(setting: str) -> Any:
    """The pydantic field of "section.key", or None (a whole section, an unknown key)."""
    section, _, key = setting.partition(".")
    outer = Settings.model_fields.get(section)
    model = outer.annotation if outer is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    return model.model_fields.get(key)


def allowed_values(setting: str) -> list[str]:
    """The values a choice setting takes (telegram.mode: polling, webhook); [] for any other setting."""
    field = _field(setting)
    if field is None or get_origin(field.annotation) is not Literal:
        return []
    return [str(v) for v in get_args(field.annotation)]


def _toml_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    return None  # secrets and unset values have no example worth printing


def example_line(setting: str) -> str | None:
    """A correct line for the setting, as it is written in rectbot.toml: its default (mode = "polling",
    send_window = "09:00-17:30"); None when there is no default worth showing (the token)."""
    field = _field(setting)
    if field is None:
        return None
    choices = allowed_values(setting)
    value = _toml_value(choices[0] if choices else field.get_default(call_default_factory=True))
    return f"{setting.partition('.')[2]} = {value}" if value is not None else None


def _bad_setting(setting: str, reason: Msg | str) -> StartupError:
    """One line that names the setting, says what is wrong, lists the allowed values and gives an example."""
    choices, example = allowed_values(setting), example_line(setting)
    if choices and example:
        return StartupError(N_("Invalid setting {setting}: {reason}. Allowed values: {values}; for example {example}"),
                            setting=setting, reason=reason, values=Listing(choices), example=example)
    if example:
        return StartupError(N_("Invalid setting {setting}: {reason}. For example: {example}"),
                            setting=setting, reason=reason, example=example)
    return StartupError(N_("Invalid setting {setting}: {reason}"), setting=setting, reason=reason)


_TOML_AT = re.compile(r"^(?P<what>.*?) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")
# What tomllib says most often, in words a bureau IT person can act on; anything else: check the line.
_TOML_REASONS = {
    "Invalid value": N_("the value is not valid (text goes in double quotes, e.g. mode = \"polling\")"),
    "Expected '=' after a key in a key/value pair": N_("an = is missing after the name"),
    "Invalid statement": N_("the line is neither a [section] nor name = value"),
    "Unclosed array": N_("a [ list is not closed with ]"),
    "Unterminated string": N_("a text value is missing its closing quote"),
    "Cannot overwrite a value": N_("this setting is written twice"),
    "Cannot declare ('": N_("this section is written twice"),
}


def _toml_error(path: Path | None, exc: tomllib.TOMLDecodeError) -> StartupError:
    """A TOML syntax error with its line and column, in the reader's language."""
    m = _TOML_AT.match(str(exc))
    if not m:
        return StartupError(N_("The settings file {path} is not valid TOML."), path=str(path))
    what = next((msg for prefix, msg in _TOML_REASONS.items() if m["what"].startswith(prefix)),
                N_("check the quotes, = signs and brackets on that line"))
    return StartupError(N_("The settings file {path} has a syntax error on line {line}, column {column}: {what}."),
                        path=str(path), line=int(m["line"]), column=int(m["column"]), what=Msg(what))


_REASONS = {
    "int_parsing": N_("expected a whole number"),
    "int_type": N_("expected a whole number"),
    "bool_parsing": N_("expected true or false"),
    "literal_error": N_("not one of the allowed values"),
    "extra_forbidden": N_("unknown setting"),
    "greater_than_equal": N_("too small"),
    "less_than_equal": N_("too large"),
    "list_type": N_("expected a list"),
    "string_type": N_("expected text"),
    "missing": N_("missing"),
    "json_invalid": N_("not valid JSON"),
}
# value_error messages raised by the validators above, listed here for extraction.
_VALIDATOR_MESSAGES = (
    N_("expected an http(s) URL"), N_("unknown time zone"), N_("expected HH:MM-HH:MM"),
    N_("expected HH:MM"), N_("window start must be before its end"), N_("working days must be 0 or more"),
    N_("expected two increasing working-day counts, e.g. [1, 10]"),
    N_("webhook.url is required when telegram.mode = webhook"),
)


def load_settings(config: Path | None = None) -> Settings:
    """Read settings from `config` (or ./rectbot.toml when present) and the environment.

    Raises StartupError with one line naming the bad setting.
    """
    path = config if config is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    if config is not None and not config.is_file():
        raise StartupError(N_("Configuration file not found: {path}"), path=str(config))

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    try:
        return _FileSettings()
    except ValidationError as exc:
        setting, reason = _describe(exc)
        raise _bad_setting(setting, reason) from None
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, exc) from None
    except OSError as exc:  # unreadable (permissions), a folder, vanished
        raise StartupError(N_("Cannot read the configuration file {path}: {reason}"), path=str(path),
                           reason=os_error_reason(exc)) from None
    except (SettingsError, ValueError) as exc:  # undecodable env value
        cause = exc.__cause__ or exc
        raise StartupError(N_("Cannot read the settings: {detail}"), detail=str(cause).splitlines()[0]) from None


def toml_dump(data: Mapping[str, Mapping[str, Any]]) -> str:
    """Just enough TOML to write rectbot's flat sections (the demo, the e2e harness and the bench write
    their configs with it; tomllib only reads). None values are left out, i.e. the setting's default."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = []
    for section, items in data.items():
        out.append(f"[{section}]")
        out.extend(f"{k} = {value(v)}" for k, v in items.items() if v is not None)
        out.append("")
    return "\n".join(out)
