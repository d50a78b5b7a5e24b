"""Reading a form with uploads under a size limit, and saving each upload once it is checked.

The limit is enforced twice: a request whose ``Content-Length`` is over it is refused before
a byte of its body is read, and a body that grows past it while being read (no length
given, or a wrong one) is cut off. An upload is saved under the data folder's ``uploads/``
with a checked name (:func:`spermlab.web.paths.safe_upload_name`) and kept only when PyAV
decodes it (:func:`spermlab.web.paths.check_video`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from spermlab.web.paths import UploadRejected, check_video, safe_upload_name, unique_path

__all__ = ["UploadTooLarge", "read_form", "save_upload", "size_text"]


class UploadTooLarge(UploadRejected):
    """A request larger than the app's upload limit."""

    def __init__(self, size: int | None, limit: int) -> None:
        self.size, self.limit = size, limit
        got = f"{size_text(size)}" if size is not None else "more than that"
        super().__init__(f"the upload is too large: {got}; uploads are limited to {size_text(limit)} "
                         "(spermlab serve --max-upload-mb), copy larger files into the data folder "
                         "instead and choose them from the list")  # fmt: skip


def size_text(n: int | None) -> str:
    """A byte count for people: ``3.2 MB``, ``2.0 GB``."""
    if n is None:
        return "unknown size"
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


async def read_form(request: Request, limit: int) -> FormData:
    """The request's form (multipart or urlencoded), refusing a body over ``limit`` bytes.

    Raises
    ------
    UploadTooLarge
        When the declared length or the bytes received exceed ``limit``.
    UploadRejected
        When the body is not a well-formed form.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise UploadRejected(f"Content-Length {declared!r}: expected a number of bytes") from None
        if n > limit:
            raise UploadTooLarge(n, limit)
    received = 0
    receive = request.receive

    async def limited() -> dict[str, Any]:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise UploadTooLarge(None, limit)
        return message

    try:
        return await Request(request.scope, limited).form(max_files=100, max_fields=500)
    except HTTPException as e:  # a malformed multipart body
        raise UploadRejected(f"the form could not be read: {e.detail}") from None


def save_upload(upload: UploadFile, folder: Path) -> Path:
    """Save one checked upload into ``folder`` under a safe, unused name; return its path.

    Raises
    ------
    UploadRejected
        For a name that is not a plain video file name, or content that is not a video
        (the file is deleted again).
    """
    name = safe_upload_name(upload.filename)
    folder.mkdir(parents=True, exist_ok=True)
    dest = unique_path(folder, name)
    tmp = folder / f".{dest.name}.part"
    try:
        upload.file.seek(0)
        with open(tmp, "wb") as f:
            shutil.copyfileobj(upload.file, f, 1 << 20)
        check_video(tmp, shown_name=upload.filename)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
