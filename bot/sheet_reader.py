"""Reading an uploaded spreadsheet under hard limits, in a separate, memory-capped process.

Uploads are hostile until read: a 1,735-byte XLSX whose <dimension> claims 16,384 columns made
openpyxl pad every row to that width (4 GB), a 1 MB zip bomb unpacked to 2 GB, a CSV field
over 128 KB crashed the import, and all of it ran on the event loop, stalling every other user.
So, in this order:

1. `check_upload` (cheap, synchronous, before anything is unpacked): the file's size, its kind,
   the XLSX zip directory (member count, each member's and the total unpacked size, each
   member's compression ratio, read from the end record and the central directory; zipfile
   later refuses to unpack more than a member declares), and the CSV encoding of the first 64 KB.
2. `read_rows` (async): the parsing runs in a child Python process with RLIMIT_AS and
   RLIMIT_CPU set (Linux) and a wall-clock timeout, so a bomb costs at most that process; rows
   come back in small pickled frames so the event loop never unpickles much at once. `parse`
   is the same work in-process (used by the child, and as a thread fallback).
3. While parsing: the declared dimension is ignored (rows end at their last real cell), rows
   with data beyond `Limits.columns` are refused, blank cells beyond it dropped, at most
   `Limits.rows` data rows and `Limits.field_chars` characters per cell.

Every refusal is a DomainError with an English msgid (translated at render time) naming the
limit. This module imports only the standard library, bot.errors and bot.sheets (and openpyxl
when parsing) so that the child starts quickly.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import logging
import os
import pickle
import re
import signal
import struct
import sys
import zipfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from bot.errors import N_, DomainError
from bot.sheets import unescape_csv_value

log = logging.getLogger(__name__)

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Hard limits of one import; the defaults fit a 50,000-row ledger with room to spare."""

    file_bytes: int = 20 * MIB            # Telegram lets a bot download at most 20 MB anyway
    zip_members: int = 1_000              # a workbook has a dozen parts; thousands are an attack
    member_bytes: int = 100 * MIB         # a 50,000-row ledger's sheet XML is about 30 MB
    total_bytes: int = 200 * MIB
    ratio: int = 100                      # real sheets compress 5-15 times; bombs 1,000 times
    ratio_floor_bytes: int = MIB          # small parts may compress as well as they like
    rows: int = 50_000                    # data rows (blank rows are not counted)
    columns: int = 64                     # the ledger has 22; data further right is refused
    field_chars: int = 32_767             # Excel's own limit for one cell
    memory_bytes: int = 1024 * MIB        # address space of the parsing process (Linux)
    seconds: float = 120.0                # wall clock of the parsing process (with on_rows: and of their use)


LIMITS = Limits()
XLSX, CSV = "xlsx", "csv"
SUFFIXES = {".xlsx": XLSX, ".xlsm": XLSX, ".csv": CSV, ".txt": CSV}
SNIFF_BYTES = 64 * 1024

Row = tuple[int, list[Any]]   # (row number as the user sees it in the file, cells)

WRONG_KIND = N_("Send the ledger as an .xlsx or .csv file.")
EMPTY = N_("The file {name} is empty.")
NOT_WORKBOOK = N_("The file {name} is not a readable Excel workbook.")
NOT_TEXT = N_("The CSV file is neither UTF-8 nor GBK text.")
MOJIBAKE = N_("The CSV file does not read as UTF-8 or GBK text (it looks like Latin-1 or a mix of encodings); "
              "save it as “CSV UTF-8” and send it again.")
FILE_TOO_BIG = N_("The file is {size} MB; files up to {limit} MB can be imported.")
TOO_MANY_MEMBERS = N_("The workbook consists of {n} parts; at most {limit} are accepted.")
MEMBER_TOO_BIG = N_("The workbook part {member} unpacks to {size} MB; at most {limit} MB per part are accepted.")
TOTAL_TOO_BIG = N_("The workbook unpacks to {size} MB; at most {limit} MB are accepted.")
RATIO_TOO_HIGH = N_("The workbook part {member} is compressed {ratio} to 1; at most {limit} to 1 is accepted "
                    "(this looks like a zip bomb).")
TOO_MANY_ROWS = N_("The file has more than {limit} rows; split it into smaller files.")
TOO_WIDE = N_("Row {row} has data in column {column}; a ledger has at most {limit} columns.")
FIELD_TOO_LONG = N_("Row {row} has a cell of more than {limit} characters.")
CSV_BROKEN = N_("Row {row} of the CSV file cannot be read.")
OUT_OF_MEMORY = N_("Reading the file needed more than {limit} MB of memory, so it was stopped.")
TOO_SLOW = N_("Reading the file took longer than {limit} seconds, so it was stopped.")
WORKER_FAILED = N_("The file {name} could not be read; check that it opens in Excel and send it again.")


def _mb(n: float) -> str:
    return f"{n / MIB:.1f}".removesuffix(".0")


# --------------------------------------------------------------------------- before reading


def check_upload(data: bytes, filename: str, limits: Limits = LIMITS) -> str:
    """The file's kind (XLSX or CSV) after the checks that need no unpacking; DomainError otherwise."""
    kind = SUFFIXES.get(Path(filename).suffix.lower())
    if kind is None:
        raise DomainError(WRONG_KIND)
    if len(data) > limits.file_bytes:
        raise DomainError(FILE_TOO_BIG, size=_mb(len(data)), limit=_mb(limits.file_bytes))
    if not data.strip():
        raise DomainError(EMPTY, name=filename)
    if kind == XLSX:
        check_zip(data, filename, limits)
    else:
        decode_text(data[:SNIFF_BYTES], final=len(data) <= SNIFF_BYTES)
    return kind


_EOCD = struct.Struct("<4s4H2LH")   # end of central directory record


def check_zip(data: bytes, filename: str, limits: Limits = LIMITS) -> None:
    """Refuse a zip whose directory promises too much, before any member is unpacked."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or len(data) - end < _EOCD.size:
        raise DomainError(NOT_WORKBOOK, name=filename)
    _sig, _disk, _cd_disk, _here, entries, cd_size, _cd_offset, _comment = _EOCD.unpack_from(data, end)
    # 0xFFFF means "see the zip64 record": no workbook needs that many parts.
    if entries > limits.zip_members or cd_size > limits.zip_members * 1024:
        raise DomainError(TOO_MANY_MEMBERS, n=entries, limit=limits.zip_members)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error):
        raise DomainError(NOT_WORKBOOK, name=filename) from None
    if len(infos) > limits.zip_members:
        raise DomainError(TOO_MANY_MEMBERS, n=len(infos), limit=limits.zip_members)
    total = 0
    for info in infos:
        name = info.filename[:80]
        if info.file_size > limits.member_bytes:
            raise DomainError(MEMBER_TOO_BIG, member=name, size=_mb(info.file_size), limit=_mb(limits.member_bytes))
        total += info.file_size
        if total > limits.total_bytes:
            raise DomainError(TOTAL_TOO_BIG, size=_mb(sum(i.file_size for i in infos)), limit=_mb(limits.total_bytes))
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.ratio:
            raise DomainError(RATIO_TOO_HIGH, member=name, ratio=int(ratio), limit=limits.ratio)


# --------------------------------------------------------------------------- CSV text


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_IN_A_LATIN_WORD = re.compile(r"[A-Za-z]([^\x00-\x7f])(?=[A-Za-z])")


def _common_chinese(ch: str) -> bool:
    """In GB2312: the 6,763 common hanzi, full-width punctuation, kana, Greek, Cyrillic, box drawing."""
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def looks_like_mojibake(text: str) -> bool:
    """Did GB18030 "succeed" on bytes that were really Latin-1 (or broken UTF-8)?

    Latin-1 decodes as GBK whenever an accented letter is followed by an ASCII letter
    ("Müller": ü+l → one GBK character), and always into GBK's rarely used extension area
    (its second byte is below 0xA1), never into GB2312 where real Chinese text lives. So: a
    non-GB2312 character inside a Latin word, or non-GB2312 characters making up 30% or more
    of the non-ASCII text (at least 3 of them), means the file is not GBK. A ledger with the
    odd rare character in a name passes.
    """
    counts = Counter(_NON_ASCII.findall(text))
    rare = {ch for ch in counts if not _common_chinese(ch)}
    if not rare:
        return False
    if any(m.group(1) in rare for m in _IN_A_LATIN_WORD.finditer(text)):
        return True
    n_rare = sum(counts[ch] for ch in rare)
    return n_rare >= 3 and n_rare * 10 >= sum(counts.values()) * 3


def decode_text(data: bytes, *, final: bool = True) -> str:
    """UTF-8 (± BOM), UTF-16 with a BOM (Excel's "Unicode text"), else GB18030 (a superset of GBK) unless
    the result looks like mojibake. `final=False` decodes a prefix (a character may be cut at its end)."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(data, final)
        except UnicodeDecodeError:
            continue
        if encoding == "gb18030" and looks_like_mojibake(text):
            raise DomainError(MOJIBAKE)
        return text
    raise DomainError(NOT_TEXT)


# --------------------------------------------------------------------------- parsing


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _fit(number: int, cells: list[Any], limits: Limits) -> list[Any] | None:
    """The row cut to the column limit (None when blank); DomainError for data beyond it or a too-long cell."""
    if len(cells) > limits.columns:
        beyond = next((i for i in range(len(cells) - 1, limits.columns - 1, -1) if not _blank(cells[i])), None)
        if beyond is not None:
            raise DomainError(TOO_WIDE, row=number, column=beyond + 1, limit=limits.columns)
        cells = cells[:limits.columns]
    if all(_blank(c) for c in cells):
        return None
    for c in cells:
        if isinstance(c, str) and len(c) > limits.field_chars:
            raise DomainError(FIELD_TOO_LONG, row=number, limit=limits.field_chars)
    return cells


def _collect(numbered: Iterable[tuple[int, list[Any]]], limits: Limits) -> Iterator[Row]:
    """The non-blank rows, fitted, as they are read (the worker sends them on while it parses)."""
    kept = 0
    for number, cells in numbered:
        fitted = _fit(number, cells, limits)
        if fitted is None:
            continue
        if kept > limits.rows:   # the header row plus `limits.rows` data rows
            raise DomainError(TOO_MANY_ROWS, limit=limits.rows)
        kept += 1
        yield number, fitted


def _xlsx_rows(data: bytes, name: str) -> Iterator[tuple[int, list[Any]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise DomainError(NOT_WORKBOOK, name=name) from None
    try:
        if not wb.worksheets:
            raise DomainError(NOT_WORKBOOK, name=name)
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # never trust <dimension>: each row ends at its own last cell
        try:
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                if values:   # openpyxl yields () for each row missing between two real ones
                    yield number, list(values)
        except (DomainError, MemoryError):
            raise
        except Exception:
            raise DomainError(NOT_WORKBOOK, name=name) from None
    finally:
        wb.close()


def _csv_rows(data: bytes, limits: Limits) -> Iterator[tuple[int, list[Any]]]:
    text = decode_text(data)
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:   # over the csv module's own field limit (128 KB), or a broken quote
            if "field limit" in str(exc):
                raise DomainError(FIELD_TOO_LONG, row=number + 1, limit=limits.field_chars) from None
            raise DomainError(CSV_BROKEN, row=number + 1) from None
        number += 1
        yield number, [unescape_csv_value(v) for v in values]


def parse(data: bytes, kind: str, name: str, limits: Limits = LIMITS) -> list[Row]:
    """The non-blank rows of the first sheet (or the CSV), each cut to the column limit."""
    return list(_stream(data, kind, name, limits))


def _stream(data: bytes, kind: str, name: str, limits: Limits) -> Iterator[Row]:
    return _collect(_xlsx_rows(data, name) if kind == XLSX else _csv_rows(data, limits), limits)


# --------------------------------------------------------------------------- the worker process


@dataclass(frozen=True)
class Sheet:
    rows: list[Row]
    peak_rss_kb: int = 0    # of the process that parsed it (0: parsed in a thread of this process)


_FRAME = struct.Struct("<Q")
_FRAME_ROWS = 2_000
_ROOT = str(Path(__file__).resolve().parent.parent)
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from bot.sheet_reader import child_main; child_main()"


def _send(out: IO[bytes], message: tuple[Any, ...]) -> None:
    blob = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_FRAME.pack(len(blob)) + blob)
    out.flush()


def _cap(limits: Limits) -> None:
    """Linux: cap this process's address space and CPU time; elsewhere only the wall clock applies."""
    if not sys.platform.startswith("linux"):
        return
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    cpu = int(limits.seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


def _peak_rss_kb() -> int:
    """This process's own peak RSS. Linux: VmHWM of its address space; ru_maxrss is carried over exec,
    so in a worker started by a large parent it reports the parent's peak instead of the worker's."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    try:
        import resource
    except ImportError:
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def child_main() -> None:
    """The worker: a pickled (data, kind, name, limits) on stdin, frames of rows and a verdict on stdout."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)   # a stray print must not corrupt the frames
    data, kind, name, fields = pickle.load(sys.stdin.buffer)
    limits = Limits(**fields)
    _cap(limits)
    # Frames go out while parsing goes on, so that the parent validates one frame while this process
    # parses the next; a refusal may follow frames (the parent then discards what it read).
    try:
        frame: list[Row] = []
        for row in _stream(data, kind, name, limits):
            frame.append(row)
            if len(frame) >= _FRAME_ROWS:
                _send(out, ("rows", frame))
                frame = []
        if frame:
            _send(out, ("rows", frame))
    except DomainError as exc:
        _send(out, ("refused", exc.msgid, exc.params))
        return
    except MemoryError:
        del data, frame
        _send(out, ("refused", OUT_OF_MEMORY, {"limit": _mb(limits.memory_bytes)}))
        return
    del data
    _send(out, ("done", _peak_rss_kb()))


OnRows = Callable[[list[Row]], Awaitable[None]]


async def read_rows(data: bytes, kind: str, name: str, limits: Limits = LIMITS, *, isolate: bool = True,
                    on_rows: OnRows | None = None) -> Sheet:
    """Parse in a capped child process (or, with isolate=False or no way to start one, in a thread).

    With `on_rows`, each frame of rows goes to it as it arrives (a ledger import validates them while
    the worker parses on) and the Sheet's `rows` stay empty; a refusal can come after some frames."""
    if isolate and sys.executable:
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-c", _BOOT, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except (OSError, NotImplementedError, RuntimeError) as exc:
            log.warning("cannot start the spreadsheet worker (%s); parsing in a thread", exc)
        else:
            return await _talk(proc, data, kind, name, limits, on_rows)
    rows = await asyncio.to_thread(parse, data, kind, name, limits)
    if on_rows is None:
        return Sheet(rows)
    for start in range(0, len(rows), _FRAME_ROWS):
        await on_rows(rows[start:start + _FRAME_ROWS])
    return Sheet([])


async def _talk(proc: asyncio.subprocess.Process, data: bytes, kind: str, name: str, limits: Limits,
                on_rows: OnRows | None) -> Sheet:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
    tail = bytearray()   # the last few KB of the child's stderr, for the log

    async def feed() -> None:
        try:
            stdin.write(pickle.dumps((data, kind, name, asdict(limits)), protocol=pickle.HIGHEST_PROTOCOL))
            await stdin.drain()
            stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass   # the child died early; its exit status tells

    async def drain_stderr() -> None:
        while chunk := await stderr.read(65_536):   # a chatty child must never block on a full pipe
            tail.extend(chunk)
            del tail[:-4096]

    async def frames() -> Sheet:
        rows: list[Row] = []
        while True:
            try:
                size = _FRAME.unpack(await stdout.readexactly(_FRAME.size))[0]
                message = pickle.loads(await stdout.readexactly(size))
            except asyncio.IncompleteReadError:
                code = await proc.wait()
                log.warning("spreadsheet worker ended without an answer (exit %s): %s", code,
                            tail.decode(errors="replace"))
                if code == -getattr(signal, "SIGXCPU", 24):
                    raise DomainError(TOO_SLOW, limit=int(limits.seconds)) from None
                raise DomainError(WORKER_FAILED, name=name) from None
            if message[0] == "rows":
                if on_rows is None:
                    rows.extend(message[1])
                else:
                    await on_rows(message[1])
            elif message[0] == "done":
                return Sheet(rows, int(message[1]))
            else:   # "refused"
                raise DomainError(message[1], **message[2])

    drainer = asyncio.create_task(drain_stderr())
    try:
        async with asyncio.timeout(limits.seconds):
            _, sheet = await asyncio.gather(feed(), frames())
            return sheet
    except TimeoutError:
        raise DomainError(TOO_SLOW, limit=int(limits.seconds)) from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()
        await drainer
