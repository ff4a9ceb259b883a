"""Which files of a source tree are candidates, and where their outputs and label maps live.

The walk follows symlinks (photo libraries use them) but enters every directory once, so a
symlink loop ends the descent instead of recursing forever; folders it cannot read are
reported, never fatal. Outputs mirror the tree as ``DEST/<relative path, extension kept>.sgc``
so ``a.jpg`` and ``a.png`` never collide; names that only differ in case or Unicode
normalisation would collide on the case-insensitive disks archives often end up on, and are
refused as such.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..container import EXTENSION


@dataclass(frozen=True)
class Entry:
    """A file found under the source root, or a folder that could not be walked (``error``)."""

    rel: str
    error: str | None = None


def check_roots(src: Path, dest: Path) -> None:
    """Refuse a destination inside the source (the run would encode its own outputs)."""
    if not src.is_dir():
        raise NotADirectoryError(f"{src} is not a folder")
    s, d = src.resolve(), dest.resolve()
    if d == s or s in d.parents:
        raise ValueError(f"the destination {dest} is inside the source {src}")


def walk(root: Path) -> Iterator[Entry]:
    """Every file under ``root`` in sorted order (relative POSIX paths), and unreadable folders."""
    seen: set[tuple[int, int]] = set()

    def visit(folder: Path, rel: str) -> Iterator[Entry]:
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                yield Entry(rel + "/", "skipped: folder already visited (symlink loop or duplicate link)")
                return
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Entry((rel + "/") if rel else "./", f"cannot read folder: {exc.strerror or exc}")
            return
        for e in entries:
            child = f"{rel}/{e.name}" if rel else e.name
            try:
                is_dir = e.is_dir()
            except OSError as exc:
                yield Entry(child, f"cannot stat: {exc.strerror or exc}")
                continue
            if is_dir:
                yield from visit(Path(e.path), child)
            else:
                yield Entry(child)

    yield from visit(root, "")


def output_rel(rel: str) -> str:
    """``a/b.jpg`` → ``a/b.jpg.sgc``."""
    return rel + EXTENSION


def collision_key(rel: str) -> str:
    """Names equal on a case-insensitive, normalising file system share this key."""
    return unicodedata.normalize("NFC", rel).casefold()


def label_rel(rel: str, pattern: str) -> str:
    """The label map of ``x/y/name.jpg``: ``x/y/<pattern>`` with ``{stem}`` and ``{name}`` filled in."""
    folder, _, name = rel.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    filled = pattern.format(stem=stem, name=name)
    return f"{folder}/{filled}" if folder else filled


def remove_stale_temporaries(folders: Iterable[Path]) -> int:
    """Delete the ``.NAME.XXXX.tmp`` files a killed run's atomic writes left in ``folders``."""
    removed = 0
    for folder in folders:
        for path in folder.glob(".*.tmp") if folder.is_dir() else ():
            path.unlink(missing_ok=True)
            removed += 1
    return removed
