"""Evidence files: checked by their content, kept byte for byte, with a separate preview.

`check_uploads` reads every file of a report and refuses the whole lot on the first problem, with
a Vietnamese message naming the file: emptiness, size and type by `app.uploads.check_upload` (the
one judge of every upload), then the report's own limits (count, total size, pixels) and a full
decode of each image here; nothing is written until every file has passed. `EvidenceStore`
then writes the originals (exactly the bytes received) and the previews (images re-encoded by
Pillow, which drops their metadata) under the evidence folder, and removes what it wrote if the
transaction does not commit.
"""
from __future__ import annotations

import hashlib
import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, ImageOps

from ..uploads import MIME_TYPES, UploadError, check_upload, megabytes

#: the image formats Pillow reports, and the type each is kept as
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: the kinds app.uploads.sniff tells, for images
IMAGE_KINDS = ("jpeg", "png", "webp")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}
PREVIEW_SIDE = 1280

# A truncated image must fail, never be padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False


class EvidenceError(ValueError):
    """A file that cannot be accepted; the message names it and says why, in Vietnamese."""

    def __init__(self, message: str, field: str = "images") -> None:
        super().__init__(message)
        #: the form field the file came from ("images" or "pdf")
        self.field = field


@dataclass
class Limits:
    file_bytes: int
    report_bytes: int
    files: int
    #: an image larger than this (width × height) is refused before it is decoded
    pixels: int

    @classmethod
    def from_config(cls, config) -> Limits:
        return cls(config["VIOLATION_MAX_FILE_BYTES"], config["VIOLATION_MAX_REPORT_BYTES"],
                   config["VIOLATION_MAX_FILES"], config["VIOLATION_MAX_IMAGE_PIXELS"])


@dataclass
class CheckedFile:
    """A file that passed every check, in memory, ready to be stored."""

    original_name: str
    content_type: str
    data: bytes
    sha256: str
    #: the re-encoded JPEG preview of an image; None for a PDF
    preview: bytes | None

    @property
    def size(self) -> int:
        return len(self.data)


def _check_pdf(name: str, data: bytes) -> None:
    # A PDF ends with %%EOF (possibly followed by a line break or a little padding).
    if b"%%EOF" not in data[-1024:]:
        raise EvidenceError(f"Tệp «{name}» không phải tệp PDF hoàn chỉnh (thiếu phần kết thúc).")


def _check_image(name: str, data: bytes, content_type: str, max_pixels: int) -> bytes:
    """Open, verify and fully decode an image; return its preview. Refuse bombs before decoding."""
    broken = f"Tệp «{name}» không phải ảnh hợp lệ hoặc bị hỏng, thiếu dữ liệu."
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if IMAGE_FORMATS.get(image.format) != content_type:
                    raise EvidenceError(broken)
                width, height = image.size
                if width * height > max_pixels:
                    raise EvidenceError(f"Ảnh «{name}» quá lớn ({width} × {height} điểm ảnh); "
                                        f"tối đa {max_pixels:,} điểm ảnh.".replace(",", "."))
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() does not decode: a truncated image fails only here
                preview = ImageOps.exif_transpose(image)
                preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
                if preview.mode not in ("RGB", "L"):
                    preview = preview.convert("RGB")
                out = io.BytesIO()
                # Saved without exif/icc/comments: the preview carries no metadata of the original.
                preview.save(out, format="JPEG", quality=85)
                return out.getvalue()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise EvidenceError(f"Ảnh «{name}» có kích thước điểm ảnh quá lớn (nghi là ảnh nén bất thường); "
                                "không nhận.") from None
        except EvidenceError:
            raise
        except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError, EOFError):
            raise EvidenceError(broken) from None


def check_uploads(images: list[tuple[str, bytes]], pdfs: list[tuple[str, bytes]], limits: Limits) -> list[CheckedFile]:
    """Check every (name, bytes) by content: `images` must be JPEG, PNG or WebP, `pdfs` PDF. The
    first problem refuses them all (EvidenceError, its `field` saying which input it came from)."""
    everything = [(name, data, "images") for name, data in images] + [(name, data, "pdf") for name, data in pdfs]
    if len(everything) > limits.files:
        raise EvidenceError(f"Chỉ gửi được tối đa {limits.files} tệp cho một báo cáo (đã chọn {len(everything)}).",
                            "images")
    total = sum(len(data) for _, data, _ in everything)
    if total > limits.report_bytes:
        raise EvidenceError(f"Tổng dung lượng các tệp là {megabytes(total)}, vượt mức "
                            f"{megabytes(limits.report_bytes)} cho một báo cáo.", "images")
    checked = []
    for name, data, field in everything:
        name = os.path.basename(name.replace("\\", "/")) or "(không tên)"
        # Emptiness, size and type are judged by the shared upload check, as every upload is.
        kinds, expected = (("pdf",), "tệp PDF") if field == "pdf" else (IMAGE_KINDS, "ảnh JPEG, PNG hay WebP")
        try:
            content_type = MIME_TYPES[check_upload(data, allowed=kinds, max_bytes=limits.file_bytes, name=name,
                                                   expected=expected)]
        except UploadError as error:
            raise EvidenceError(str(error), field) from None
        try:
            if content_type == "application/pdf":
                _check_pdf(name, data)
                preview = None
            else:
                preview = _check_image(name, data, content_type, limits.pixels)
        except EvidenceError as error:
            error.field = field
            raise
        checked.append(CheckedFile(name[:255], content_type, data, hashlib.sha256(data).hexdigest(), preview))
    return checked


class EvidenceStore:
    """The evidence folder. Keys are relative paths made by the server, never from a file's name."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise EvidenceError("Đường dẫn chứng cứ không hợp lệ.")
        return path

    def new_key(self, prefix: str, content_type: str, *, preview: bool = False) -> str:
        extension = "jpg" if preview else EXTENSIONS[content_type]
        kind = "preview" if preview else "original"
        return f"{prefix}/{kind}-{secrets.token_hex(8)}.{extension}"

    def write(self, key: str, data: bytes) -> Path:
        """Write a new file (never over an existing one), durably, in one step visible to readers."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.part")
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)  # fails if the key exists: an original is never replaced
        temporary.unlink()
        return path

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def remove(self, keys: list[str]) -> None:
        """Remove files written for a transaction that did not commit (missing ones are fine)."""
        for key in keys:
            try:
                self.path(key).unlink()
            except FileNotFoundError:
                pass
            parent = self.path(key).parent
            try:
                parent.rmdir()  # only if now empty
            except OSError:
                pass
