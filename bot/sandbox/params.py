"""Request parameters and Telegram-shaped errors.

PTB sends ``application/x-www-form-urlencoded`` bodies where every value is a
string and complex values are JSON strings; other clients send JSON bodies or
multipart uploads.  :class:`Params` hides those differences behind typed
accessors that fail with the same 400 errors Telegram gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ApiError", "Params", "Upload"]


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """JSON body exactly as Telegram shapes it."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    """``400 Bad Request: <detail>``."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    data: bytes
    content_type: str | None


class Params:
    """Typed read access to one request's parameters."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.uploads = uploads or {}

    def __contains__(self, name: str) -> bool:
        return name in self.values or name in self.uploads

    def raw(self, name: str) -> Any:
        """The value as received (string for form bodies)."""
        return self.values.get(name)

    def get_str(self, name: str, default: str | None = None) -> str | None:
        """A string parameter; JSON numbers are stringified like Telegram does."""
        value = self.values.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)

    def get_int(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter; non-numeric values are a 400 like Telegram's."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def require_int(self, name: str) -> int:
        """An integer parameter that must be present."""
        value = self.get_int(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def get_float(self, name: str, default: float) -> float:
        """A float parameter (e.g. ``timeout``)."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        """A boolean parameter: JSON ``true``/``false`` or the strings PTB sends."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")

    def get_json(self, name: str, what: str = "JSON object") -> Any:
        """A structured parameter sent either as real JSON or as a JSON string."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what}") from None
        return value

    def get_file(self, name: str) -> Upload | str | None:
        """An InputFile: an uploaded part (also via ``attach://``) or a file_id/URL string."""
        if name in self.uploads:
            return self.uploads[name]
        value = self.get_str(name)
        if value is None:
            return None
        if value.startswith("attach://"):
            upload = self.uploads.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f'can\'t find attached file "{value}"')
            return upload
        return value

    def loggable(self) -> dict[str, Any]:
        """Parameters for the call log, with upload bytes summarised."""
        out = dict(self.values)
        for key, up in self.uploads.items():
            out[key] = f"<upload {up.filename!r} {len(up.data)} bytes>"
        return out
