"""Errors that carry a translatable message, so the domain never picks a language itself."""

from __future__ import annotations

from typing import Any, Protocol


def N_(msgid: str) -> str:
    """Mark a string for extraction without translating it yet (translated at render time)."""
    return msgid


class Translator(Protocol):
    """What rendering an error needs of bot.i18n.Translator (kept structural so this module is a leaf)."""

    def gettext(self, msgid: str) -> str: ...


class Msg:
    """A translatable fragment used as a parameter of another message (rendered lazily)."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params

    def render(self, t: Translator) -> str:
        text = t.gettext(self.msgid)
        if not self.params:
            return text
        return text.format(**{k: _render(v, t) for k, v in self.params.items()})

    def __str__(self) -> str:
        return self.msgid.format(**self.params) if self.params else self.msgid


class Listing(Msg):
    """Values listed in the reader's language (polling、webhook in Chinese, polling, webhook in English)."""

    def __init__(self, items: list[str]) -> None:
        super().__init__(", ")
        self.items = items

    def render(self, t: Translator) -> str:
        return t.gettext(N_(", ")).join(self.items)

    def __str__(self) -> str:
        return ", ".join(self.items)


def os_error_reason(exc: OSError) -> Msg:
    """Why a file could not be used, as a translatable message (the OS's strerror is English only)."""
    import errno

    reasons = {
        errno.ENOENT: N_("the file or folder does not exist"),
        errno.EACCES: N_("permission denied"),
        errno.EPERM: N_("permission denied"),
        errno.EISDIR: N_("it is a folder, not a file"),
        errno.ENOTDIR: N_("a part of the path is not a folder"),
        errno.ENOSPC: N_("the disk is full"),
        errno.EROFS: N_("the file system is read-only"),
        errno.EEXIST: N_("it already exists"),
    }
    msgid = reasons.get(exc.errno if exc.errno is not None else -1)
    return Msg(msgid) if msgid else Msg(N_("system error {code}"), code=exc.errno if exc.errno is not None else "?")


# A message may echo what someone typed ("Unknown role …"); the echo is cut so a 10,000-character input
# cannot make the answer longer than a chat message may be.
MAX_ECHO = 200


def _render(value: Any, t: Translator) -> Any:
    if isinstance(value, Msg):
        return value.render(t)
    if isinstance(value, str) and len(value) > MAX_ECHO:
        return value[:MAX_ECHO] + "…"
    return value


class RectbotError(Exception):
    """Base for errors shown to people: an English msgid plus format parameters."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params
        super().__init__(msgid.format(**params) if params else msgid)

    def render(self, t: Translator) -> str:
        return Msg(self.msgid, **self.params).render(t)


class DomainError(RectbotError):
    """Bad input or a refused action; nothing was changed."""


class NotAuthorized(DomainError):
    """The person may not do this; callback data and commands are both checked."""


class StartupError(RectbotError):
    """Configuration or environment problem that must stop `rectbot` with exit code 2."""
