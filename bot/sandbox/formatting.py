"""Telegram-style parsing of ``parse_mode`` text into plain text plus entities.

Telegram does not store markup: it parses it, rejects malformed input with
``400 Bad Request: can't parse entities: ...`` and returns the plain text with
``entities`` (offsets in UTF-16 code units).  Reproducing that here lets
end-to-end tests catch the classic production bug of interpolating user input
(``<``, ``&``, ``_`` ...) into formatted messages without escaping it.
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["EntityParseError", "UnsupportedParseMode", "parse_text", "utf16_len"]


class EntityParseError(ValueError):
    """Raised with Telegram's wording (after "can't parse entities: ")."""


class UnsupportedParseMode(ValueError):
    """Telegram answers ``400 Bad Request: unsupported parse_mode``."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for entity offsets."""
    return len(text.encode("utf-16-le")) // 2


_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR_RE = re.compile(r"""\s*([a-zA-Z_-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")


def _parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram's HTML subset; error texts mirror tdlib's."""
    out: list[str] = []
    pos16 = 0  # current UTF-16 offset of the output
    stack: list[tuple[str, int, dict[str, Any]]] = []  # (tag, start offset, entity)
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    while i < n:
        ch = source[i]
        if ch == "&":
            m = re.match(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);", source[i:])
            if m:
                name = m.group(1)
                decoded: str | None
                if name.startswith("#x"):
                    decoded = chr(int(name[2:], 16))
                elif name.startswith("#"):
                    decoded = chr(int(name[1:]))
                else:
                    decoded = _NAMED_ENTITIES.get(name)
                if decoded is not None:
                    out.append(decoded)
                    pos16 += utf16_len(decoded)
                    i += len(m.group(0))
                    continue
            out.append(ch)
            pos16 += 1
            i += 1
            continue
        if ch != "<":
            out.append(ch)
            pos16 += utf16_len(ch)
            i += 1
            continue
        # A tag.
        start = i
        end = source.find(">", i)
        if source.startswith("</", i):
            if end < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(start)}")
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(start)}")
            open_tag, open_pos, closed_entity = stack.pop()
            if name and name != open_tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {byte_offset(start)}, expected "</{open_tag}>", '
                    f'found "</{name}>"'
                )
            length = pos16 - open_pos
            if length > 0 and closed_entity:
                closed_entity["offset"] = open_pos
                closed_entity["length"] = length
                entities.append(closed_entity)
            i = end + 1
            continue
        m = re.match(r"<([a-zA-Z][a-zA-Z0-9-]*)", source[i:])
        tag = m.group(1).lower() if m else ""
        if tag not in _HTML_SIMPLE:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {byte_offset(start)}')
        if end < 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(start)}")
        attrs: dict[str, str] = {}
        attr_text = source[i + 1 + len(tag) : end].rstrip("/")
        for am in _ATTR_RE.finditer(attr_text):
            if am.group(1):
                attrs[am.group(1).lower()] = html.unescape(am.group(2) or am.group(3) or am.group(4) or "")
        entity: dict[str, Any] = {"type": _HTML_SIMPLE[tag]}
        if tag == "span":
            if attrs.get("class") != "tg-spoiler":
                raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(start)}')
        elif tag == "a":
            href = attrs.get("href", "")
            user = re.match(r"tg://user\?id=(\d+)$", href)
            if user:
                entity = {
                    "type": "text_mention",
                    "user": {"id": int(user.group(1)), "is_bot": False, "first_name": ""},
                }
            elif href:
                entity["url"] = href
            else:
                entity = {}
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attrs.get("emoji-id", "")
        elif tag == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        elif tag == "code" and stack and stack[-1][0] == "pre":
            # <pre><code class="language-x"> sets the language of the enclosing pre.
            language = attrs.get("class", "")
            if language.startswith("language-"):
                stack[-1][2]["language"] = language[len("language-") :]
            entity = {}
        stack.append((tag, pos16, entity))
        i = end + 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}


def _parse_markdown_v2(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 strictly enough to reject unescaped reserved characters.

    Supports *bold*, _italic_, __underline__, ~strike~, ||spoiler||, `code`,
    ```pre```, [text](url) and backslash escapes - the constructs bots use.
    """
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, int]] = []
    entities: list[dict[str, Any]] = []
    link_starts: list[int] = []
    i = 0
    n = len(source)

    def emit(text: str) -> None:
        nonlocal pos16
        out.append(text)
        pos16 += utf16_len(text)

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n:
            emit(source[i + 1])
            i += 2
            continue
        if ch == "`":
            fence = "```" if source.startswith("```", i) else "`"
            close = source.find(fence, i + len(fence))
            if close < 0:
                raise EntityParseError(f"Can't find end of Pre entity at byte offset {byte_offset(i)}")
            body = source[i + len(fence) : close]
            pre_entity: dict[str, Any] = {"type": "pre" if fence == "```" else "code"}
            if fence == "```":
                first, sep, rest = body.partition("\n")
                if sep and first and " " not in first:
                    pre_entity["language"] = first
                    body = rest
            body = re.sub(r"\\([`\\])", r"\1", body)
            start16 = pos16
            emit(body)
            if body:
                entities.append({**pre_entity, "offset": start16, "length": pos16 - start16})
            i = close + len(fence)
            continue
        marker = source[i : i + 2] if source[i : i + 2] in ("__", "||") else ch
        if marker in _MD2_MARKERS:
            if stack and stack[-1][0] == marker:
                _, start16 = stack.pop()
                if pos16 > start16:
                    entities.append({"type": _MD2_MARKERS[marker], "offset": start16, "length": pos16 - start16})
            else:
                stack.append((marker, pos16))
            i += len(marker)
            continue
        if ch == "[":
            link_starts.append(pos16)
            i += 1
            continue
        if ch == "]" and link_starts:
            start16 = link_starts.pop()
            if not source.startswith("(", i + 1):
                raise EntityParseError(f"Can't find end of a url at byte offset {byte_offset(i)}")
            close = i + 2
            while close < n and source[close] != ")":
                close += 2 if source[close] == "\\" else 1
            close = close if close < n else -1
            if close < 0:
                raise EntityParseError(f"Can't find end of a url at byte offset {byte_offset(i)}")
            url = source[i + 2 : close].replace("\\)", ")").replace("\\\\", "\\")
            if pos16 > start16:
                entities.append({"type": "text_link", "offset": start16, "length": pos16 - start16, "url": url})
            i = close + 1
            continue
        if ch in _MD2_RESERVED:
            raise EntityParseError(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        emit(ch)
        i += 1
    if stack:
        kind = _MD2_MARKERS[stack[-1][0]].capitalize()
        raise EntityParseError(f"Can't find end of {kind} entity at byte offset {byte_offset(n)}")
    if link_starts:
        raise EntityParseError(f"Can't find end of TextUrl entity at byte offset {byte_offset(n)}")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def parse_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Return ``(plain_text, entities)`` like Telegram would store them.

    Explicit ``entities`` win over ``parse_mode`` (Telegram ignores the mode
    then). Legacy ``Markdown`` is passed through unparsed: it is deprecated and
    lenient, so checking it would mostly produce false alarms.
    """
    if entities:
        return text, list(entities)
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode in ("", "markdown"):
        return text, []
    raise UnsupportedParseMode(parse_mode)
