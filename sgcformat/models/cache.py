"""Decoded-image cache: a generative decode costs seconds, a cache hit milliseconds.

Entries are PNG files in the platformdirs user cache (``$SGC_CACHE_DIR`` overrides),
named by a hash of everything the image depends on: the file's bytes, the seed,
the profile, the output size and the sampling settings. The total size is capped
(``$SGC_CACHE_MAX_MB``, default 512 MB); the least recently used entries go first.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from pathlib import Path

from PIL import Image

from ..files import save_image_atomic

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
_lock = threading.Lock()


def cache_dir() -> Path:
    if os.environ.get("SGC_CACHE_DIR"):
        return Path(os.environ["SGC_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("sgcformat")) / "decoded"


def max_bytes() -> int:
    value = os.environ.get("SGC_CACHE_MAX_MB")
    return DEFAULT_MAX_BYTES if not value else int(float(value) * 1024 * 1024)


def key(file_bytes: bytes, **settings) -> str:
    """Cache key of one decoded image: content hash plus every setting that changes the pixels."""
    digest = hashlib.sha256(file_bytes)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _path(key_: str) -> Path:
    return cache_dir() / f"{key_}.png"


def get(key_: str) -> Image.Image | None:
    """The cached image for ``key_``, or ``None``; a hit refreshes the entry's age."""
    path = _path(key_)
    try:
        data = path.read_bytes()
        os.utime(path)
    except OSError:
        return None
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except OSError:  # a damaged entry is a miss, and goes
        path.unlink(missing_ok=True)
        return None
    return image.convert("RGB")


def put(key_: str, image: Image.Image) -> None:
    """Store ``image`` under ``key_`` and evict old entries beyond the size cap."""
    with _lock:
        cache_dir().mkdir(parents=True, exist_ok=True)
        save_image_atomic(image, _path(key_), format="PNG")
        _evict(max_bytes())


def _entries() -> list[tuple[float, int, Path]]:
    entries = []
    for path in cache_dir().glob("*.png"):
        try:
            st = path.stat()
        except OSError:
            continue
        entries.append((st.st_mtime, st.st_size, path))
    return sorted(entries)


def _evict(limit: int) -> None:
    entries = _entries()
    total = sum(size for _, size, _ in entries)
    for _, size, path in entries:
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= size


def usage() -> tuple[int, int]:
    """(number of entries, total bytes)."""
    entries = _entries() if cache_dir().is_dir() else []
    return len(entries), sum(size for _, size, _ in entries)


def clear() -> int:
    """Delete every cached image; returns how many were removed."""
    with _lock:
        if not cache_dir().is_dir():
            return 0
        entries = _entries()
        for _, _, path in entries:
            path.unlink(missing_ok=True)
        return len(entries)
