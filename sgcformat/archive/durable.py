"""Outputs written atomically without a per-file fsync, made durable once per batch.

An fsync per output (~10 ms on an ext4 disk) cost as much as encoding the photo. What an
archive must promise is narrower: no manifest row says ``ok`` unless its output's bytes
survive a power loss. So workers write each output atomically (temporary file, rename) and
the driver, just before a batch of rows commits, fsyncs that batch's files and folders from
a few threads at once, which the file system serves with a few journal commits instead of
one per file. A crash before the sync leaves outputs without rows; the next run redoes them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from ..files import atomic_write_bytes

#: fsyncs in flight at once: enough for the journal to merge them, few enough to stay cheap.
SYNC_THREADS = 8


def write(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically, leaving the fsync to :func:`sync`."""
    atomic_write_bytes(path, data, fsync=False)


def sync(paths: Iterable[str]) -> None:
    """Make the files ``paths`` and their folder entries durable (call before recording them)."""
    files = list(dict.fromkeys(paths))
    if not files:
        return
    folders = list(dict.fromkeys(os.path.dirname(p) for p in files)) if os.name == "posix" else []
    with ThreadPoolExecutor(min(SYNC_THREADS, len(files))) as pool:
        list(pool.map(_fsync, files))
        list(pool.map(_fsync, folders))


def _fsync(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # removed since: the resume check finds it missing and redoes it
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
