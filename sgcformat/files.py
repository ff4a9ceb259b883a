"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The temporary file is created with mode 0666 so the kernel applies the umask, as
``open()`` and ``cp`` do (``mkstemp`` would make it 0600, and the rename would hand
that mode to every file written). A rewrite then takes over the old file's mode, and
its owner and group where the process may set them.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new, uniquely named file beside ``path``, created 0666 minus the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _take_over_attributes(fd: int, path: Path) -> None:
    """A rewrite keeps the old file's mode, and its owner and group where permitted."""
    try:
        old = os.stat(path)
    except FileNotFoundError:
        return  # a new file: the umask already applied
    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except PermissionError:  # only root may give a file away; the group may still work
            with contextlib.suppress(PermissionError):
                os.fchown(fd, -1, old.st_gid)
    os.fchmod(fd, stat.S_IMODE(old.st_mode))


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` by ``data``: a temporary file in the same folder, fsync, then rename.

    ``fsync=False`` keeps the rename atomic but leaves durability to the caller (the archive
    syncs a whole batch of outputs at once before recording them).
    """
    path = Path(path)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            _take_over_attributes(f.fileno(), path)
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_image_atomic(image: Image.Image, path: str | os.PathLike, format: str | None = None,
                      **params) -> None:
    """``image.save(path, ...)`` that never leaves ``path`` half-written or emptied on failure."""
    from PIL import Image

    path = Path(path)
    if format is None:
        Image.init()
        format = Image.EXTENSION.get(path.suffix.lower())
        if format is None:
            raise ValueError(f"cannot tell the image format from {path.name!r}")
    buffer = io.BytesIO()
    image.save(buffer, format=format, **params)
    atomic_write_bytes(path, buffer.getvalue())
