"""Uploaded files, checked by their content and read within fixed bounds, whatever they declare.

Any feature that accepts a file (the staff import, report evidence, …) uses these helpers:

* `check_upload(data, allowed=…)` tells the kind of a file from its bytes (never its name or the
  browser's content type) and refuses an empty, oversized or unexpected one, and a ZIP-based file
  whose members would unpack to more than `MAX_UNPACKED_BYTES` (a "zip bomb");
* `xlsx_rows` streams the first sheet of a workbook through expat, the standard library's SAX-level
  XML parser: the
  sheet's declared dimension is never read, only the first `max_columns` columns are kept, the
  unpacked XML is counted as it is read, and the caller stops at its row limit as rows arrive;
* `csv_rows` streams a UTF-8 CSV file row by row.

Both readers raise `UploadError` with a Vietnamese message naming the row when they can.

`PendingUploads` keeps a file on the server between a preview and its confirmation (random token,
owner, expiry), so nobody uploads the same file twice.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import secrets
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.etree.ElementTree import ParseError, XMLPullParser
from xml.parsers import expat

#: what one ZIP-based upload may unpack to, all members together
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
#: the XML of one sheet, and of the shared strings, may not unpack to more than this
MAX_SHEET_XML_BYTES = 120 * 1024 * 1024
MAX_SHARED_STRINGS_BYTES = 40 * 1024 * 1024
MAX_ZIP_MEMBERS = 2_000
#: a cell longer than this is cut: no name, code or address comes near it
MAX_CELL_CHARS = 2_000
READ_CHUNK = 64 * 1024

KIND_LABELS = {"xlsx": "Excel (.xlsx)", "csv": "CSV (.csv)", "pdf": "PDF", "png": "ảnh PNG", "jpeg": "ảnh JPEG",
               "webp": "ảnh WebP"}
#: the type a kind of file is stored and served as
MIME_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv",
              "pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_COLUMN = re.compile(r"([A-Z]{1,3})")


class UploadError(ValueError):
    """The file cannot be accepted or read; the message is for the user, in Vietnamese."""


def megabytes(size: int) -> str:
    """A size as people read it: "4,5 MB"."""
    return f"{size / (1024 * 1024):.1f}".replace(".", ",") + " MB"


def sniff(data: bytes) -> str | None:
    """The kind of a file from its first bytes: xlsx, pdf, png, jpeg, webp, csv (UTF-8 text), or None."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx"  # confirmed by check_upload, which opens the archive
    if data[:5] == b"%PDF-":
        return "pdf"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    head = data[:4096]
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not just a character cut by the 4,096-byte window
            return None
    return "csv"


def check_upload(data: bytes, *, allowed: tuple[str, ...], max_bytes: int, name: str | None = None,
                 expected: str | None = None) -> str:
    """The kind of an uploaded file (one of `allowed`), judged by its content; raises UploadError.

    Every feature's uploads pass here (the staff import, report evidence), so one piece of code
    judges them all. `name` puts the file's name in the messages (several files at once);
    `expected` says in words what was asked for ("ảnh JPEG, PNG hay WebP")."""
    subject = f"Tệp «{name}»" if name else "Tệp"
    if not data:
        raise UploadError(f"{subject} rỗng (0 byte)." if name else "Tệp trống.")
    if len(data) > max_bytes:
        raise UploadError(f"{subject} quá lớn: {megabytes(len(data))}, vượt mức {megabytes(max_bytes)} cho một tệp.")
    kind = sniff(data)
    if kind not in allowed:
        expected = expected or "là tệp được nhận: " + ", ".join(KIND_LABELS[k] for k in allowed)
        raise UploadError(f"{subject} không phải {expected} (kiểm tra theo nội dung tệp, không theo tên).")
    if kind == "xlsx":
        _check_zip(data)
    return kind


def _check_zip(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise UploadError("Không đọc được tệp Excel (.xlsx): tệp bị hỏng hoặc không phải tệp Excel.") from error
    if len(members) > MAX_ZIP_MEMBERS or sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        raise UploadError("Tệp Excel giải nén ra quá lớn; hãy lưu lại chỉ với danh sách cần nhập.")
    if "xl/workbook.xml" not in archive.namelist():
        raise UploadError("Tệp không phải là bảng tính Excel (.xlsx).")
    return archive


class _Bounded(io.RawIOBase):
    """A member of the archive read through a counter: past `limit` unpacked bytes, UploadError."""

    def __init__(self, stream, limit: int, what: str):
        self.stream, self.limit, self.what, self.count = stream, limit, what, 0

    def read(self, size: int = READ_CHUNK) -> bytes:
        chunk = self.stream.read(size)
        self.count += len(chunk)
        if self.count > self.limit:
            raise UploadError(f"{self.what} của tệp Excel quá lớn (hơn {megabytes(self.limit)} khi giải nén); "
                              "hãy chia thành nhiều tệp.")
        return chunk


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _elements(archive: zipfile.ZipFile, name: str, limit: int, what: str, tags: set[str]):
    """(event, element) for the start and end of `tags` in one XML member, parsed as it unpacks.

    Elements are yielded as they close; the caller clears what it has read. A truncated or broken
    XML stream is an UploadError."""
    try:
        stream = _Bounded(archive.open(name), limit, what)
    except (KeyError, zipfile.BadZipFile, OSError) as error:
        raise UploadError("Không đọc được tệp Excel (.xlsx): thiếu một phần của tệp.") from error
    parser = XMLPullParser(events=("start", "end"))
    try:
        while True:
            chunk = stream.read(READ_CHUNK)
            if not chunk:
                break
            parser.feed(chunk)
            for event, element in parser.read_events():
                if _local(element.tag) in tags:
                    yield event, element
        parser.close()
        for event, element in parser.read_events():
            if _local(element.tag) in tags:
                yield event, element
    except ParseError as error:
        raise UploadError(f"Tệp Excel bị hỏng ({what} không đọc được đến hết); hãy mở và lưu lại bằng Excel.") from error
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        raise UploadError("Tệp Excel bị hỏng; hãy mở và lưu lại bằng Excel.") from error


def _first_sheet_name(archive: zipfile.ZipFile) -> str:
    """The archive member of the workbook's first sheet, from workbook.xml and its relationships."""
    first = None
    for event, element in _elements(archive, "xl/workbook.xml", 4 * 1024 * 1024, "Danh sách trang tính", {"sheet"}):
        if event == "end":
            first = next((value for key, value in element.attrib.items() if _local(key) == "id"), None)
            break
    if first is None:
        raise UploadError("Tệp Excel không có trang tính nào.")
    for event, element in _elements(archive, "xl/_rels/workbook.xml.rels", 4 * 1024 * 1024,
                                     "Danh sách trang tính", {"Relationship"}):
        if event == "end" and element.get("Id") == first:
            target = element.get("Target", "").lstrip("/")
            name = target if target.startswith("xl/") else f"xl/{target}"
            if name in archive.namelist():
                return name
    raise UploadError("Tệp Excel không có trang tính nào đọc được.")


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    strings, parts = [], []
    for event, element in _elements(archive, "xl/sharedStrings.xml", MAX_SHARED_STRINGS_BYTES,
                                    "Bảng chữ dùng chung", {"si", "t"}):
        tag = _local(element.tag)
        if event == "end" and tag == "t":
            parts.append(element.text or "")
        elif event == "end" and tag == "si":
            strings.append("".join(parts)[:MAX_CELL_CHARS])
            parts = []
            element.clear()
    return strings


def _column_index(reference: str | None) -> int | None:
    """0 for column A of a reference like "B12" (1), None when there is none."""
    match = _COLUMN.match(reference or "")
    if not match:
        return None
    index = 0
    for letter in match.group(1):
        index = index * 26 + ord(letter) - 64
    return index - 1


def _cell_value(kind: str, text: str, strings: list[str]):
    if kind == "inlineStr" or kind == "str":
        return text[:MAX_CELL_CHARS]
    if kind == "s":
        try:
            return strings[int(text)]
        except (ValueError, IndexError):
            return None
    if kind == "n":
        try:
            number = float(text)
        except ValueError:
            return text[:MAX_CELL_CHARS] or None
        return int(number) if number.is_integer() and abs(number) < 1e15 else number
    if kind == "b":
        return text == "1"
    return text[:MAX_CELL_CHARS]


class _SheetReader:
    """expat handlers that turn a sheet's XML into rows as it is fed: no tree, no element kept, the
    cells past `max_columns` skipped at their start tag, the declared dimension ignored."""

    def __init__(self, strings: list[str], max_columns: int):
        self.strings, self.max_columns = strings, max_columns
        self.rows: list[tuple[int, list]] = []  # rows finished since the caller last took them
        self.number = 0
        self.values: list = []
        self.column = -1
        self.kind = "n"
        self.keep = False  # inside a cell that is read
        self.text: list[str] | None = None  # collecting a <v> or <t>

    def start(self, name: str, attrs: dict) -> None:
        if ":" in name:  # a prefixed tag (x:row), as some writers use
            name = name.rpartition(":")[2]
        if name == "c":
            found = _column_index(attrs.get("r"))
            self.column = found if found is not None and found > self.column else self.column + 1
            self.keep = self.column < self.max_columns
            self.kind = attrs.get("t", "n")
            self.parts: list[str] = []
        elif self.keep and name in ("v", "t"):
            self.text = self.parts
        elif name == "row":
            try:
                self.number = max(self.number + 1, int(attrs.get("r") or 0))
            except ValueError:
                self.number += 1
            self.values, self.column = [], -1

    def end(self, name: str) -> None:
        if ":" in name:
            name = name.rpartition(":")[2]
        if name in ("v", "t"):
            self.text = None
        elif name == "c" and self.keep:
            self.keep = False
            self.values.extend([None] * (self.column - len(self.values)))
            self.values.append(_cell_value(self.kind, "".join(self.parts), self.strings))
        elif name == "row":
            self.rows.append((self.number, self.values))

    def data(self, text: str) -> None:
        if self.text is not None and len(self.parts) < 64:
            self.text.append(text)


def xlsx_rows(data: bytes, *, max_columns: int) -> Iterator[tuple[int, list]]:
    """(row number, the values of its first `max_columns` columns) for each row of the first sheet,
    as the sheet unpacks. The caller stops when it has enough; raises UploadError."""
    archive = _check_zip(data)
    sheet = _first_sheet_name(archive)
    strings = _shared_strings(archive)
    reader = _SheetReader(strings, max_columns)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = reader.start, reader.end
    parser.CharacterDataHandler = reader.data
    try:
        stream = _Bounded(archive.open(sheet), MAX_SHEET_XML_BYTES, "Trang tính")
        while True:
            chunk = stream.read(READ_CHUNK)
            parser.Parse(chunk, not chunk)
            rows, reader.rows = reader.rows, []
            yield from rows
            if not chunk:
                break
    except expat.ExpatError as error:
        raise UploadError(f"Tệp Excel bị hỏng sau dòng {reader.number} (trang tính không đọc được đến hết); "
                          "hãy mở và lưu lại bằng Excel.") from error
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise UploadError("Tệp Excel bị hỏng; hãy mở và lưu lại bằng Excel.") from error
    finally:
        archive.close()


def csv_rows(data: bytes, *, max_columns: int) -> Iterator[tuple[int, list]]:
    """(row number, the values of its first `max_columns` columns) for each row of a UTF-8 CSV file
    (comma or semicolon, as the header line shows), as it is read; raises UploadError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UploadError("Tệp CSV phải được lưu với bảng mã UTF-8 (trong Excel: "
                          "«CSV UTF-8 (Comma delimited)»).") from error
    first_line = text[:READ_CHUNK].split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise UploadError(f"Dòng {number + 1}: không đọc được dòng này của tệp CSV (một ô quá dài "
                              "hoặc dấu ngoặc kép không đóng).") from error
        number += 1  # records, as a spreadsheet numbers them (a quoted line break stays in its row)
        yield number, [cell[:MAX_CELL_CHARS] for cell in cells[:max_columns]]


# -- files kept between a preview and its confirmation ---------------------------------------------

class PendingUploadError(UploadError):
    """A kept file that cannot be used: unknown, someone else's, or expired (message in Vietnamese)."""


@dataclass
class PendingUpload:
    token: str
    owner_id: int
    file_name: str
    sha256: str
    expires_at: datetime
    data: bytes


_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


class PendingUploads:
    """Uploaded files kept on the server between a preview and its confirmation, so the user never
    sends the file twice: each under a random token, with its owner and an expiry, in a folder of
    the instance. The confirming form carries only the token; the file is deleted once used, and
    expired files are swept whenever a new one is kept."""

    def __init__(self, root: str | os.PathLike, lifetime: timedelta) -> None:
        self.root = Path(root)
        self.lifetime = lifetime

    def _paths(self, token: str) -> tuple[Path, Path]:
        if not _TOKEN.fullmatch(token or ""):  # never a path made from what the browser sent
            raise PendingUploadError("Không tìm thấy tệp đã xem trước; hãy tải tệp lên và xem trước lại.")
        return self.root / f"{token}.bin", self.root / f"{token}.json"

    def keep(self, data: bytes, *, owner_id: int, file_name: str, now: datetime | None = None) -> PendingUpload:
        """Store a file for its owner; returns it with its token and expiry."""
        now = now or datetime.now(timezone.utc)
        self.root.mkdir(parents=True, exist_ok=True)
        self.sweep(now)
        token = secrets.token_urlsafe(32)
        kept = PendingUpload(token, owner_id, file_name, hashlib.sha256(data).hexdigest(), now + self.lifetime, data)
        data_path, meta_path = self._paths(token)
        data_path.write_bytes(data)
        # The metadata last: a file without it is never handed out, and is swept.
        meta_path.write_text(json.dumps({"owner_id": owner_id, "file_name": file_name, "sha256": kept.sha256,
                                         "expires_at": kept.expires_at.isoformat()}), encoding="utf-8")
        return kept

    def load(self, token: str, *, owner_id: int, now: datetime | None = None) -> PendingUpload:
        """The kept file of `token` if it belongs to `owner_id` and has not expired; else PendingUploadError."""
        now = now or datetime.now(timezone.utc)
        data_path, meta_path = self._paths(token)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            data = data_path.read_bytes()
        except (OSError, ValueError):
            raise PendingUploadError("Không tìm thấy tệp đã xem trước (có thể đã được áp dụng); "
                                     "hãy tải tệp lên và xem trước lại.") from None
        if meta["owner_id"] != owner_id:  # said like an unknown token: nothing about others' files
            raise PendingUploadError("Không tìm thấy tệp đã xem trước; hãy tải tệp lên và xem trước lại.")
        expires_at = datetime.fromisoformat(meta["expires_at"])
        if expires_at <= now:
            self.discard(token)
            minutes = int(self.lifetime.total_seconds() // 60)
            raise PendingUploadError(f"Bản xem trước đã quá {minutes} phút nên tệp đã được xóa; "
                                     "hãy tải tệp lên và xem trước lại.")
        if hashlib.sha256(data).hexdigest() != meta["sha256"]:
            raise PendingUploadError("Tệp đã xem trước bị hỏng trên máy chủ; hãy tải tệp lên và xem trước lại.")
        return PendingUpload(token, owner_id, meta["file_name"], meta["sha256"], expires_at, data)

    def discard(self, token: str) -> None:
        for path in self._paths(token):
            path.unlink(missing_ok=True)

    def sweep(self, now: datetime) -> None:
        """Delete expired files, and data left without metadata by a crash (older than the lifetime)."""
        if not self.root.is_dir():
            return
        for meta_path in self.root.glob("*.json"):
            try:
                expired = datetime.fromisoformat(json.loads(meta_path.read_text(encoding="utf-8"))["expires_at"]) <= now
            except (OSError, ValueError, KeyError):
                expired = True
            if expired:
                meta_path.with_suffix(".bin").unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)
        for data_path in self.root.glob("*.bin"):
            try:
                orphan = not data_path.with_suffix(".json").exists() and \
                    datetime.fromtimestamp(data_path.stat().st_mtime, timezone.utc) + self.lifetime <= now
            except OSError:
                continue
            if orphan:
                data_path.unlink(missing_ok=True)
