"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` by ``data``: a temporary file in the same folder, fsync, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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
