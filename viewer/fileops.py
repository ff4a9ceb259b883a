"""File chores the browser offers: move to the trash (with undo) and rename.

The trash is the freedesktop one, through ``QFile.moveToTrash``; undoing moves the
file back and removes the ``.trashinfo`` record the trash wrote for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import QFile, QStandardPaths


@dataclass(frozen=True)
class Trashed:
    """Where a file was, and where the trash keeps it."""

    original: Path
    in_trash: Path


def move_to_trash(path: Path) -> Trashed:
    """Move ``path`` to the user's trash; raises ``OSError`` when there is none to use."""
    # Qt makes Trash/ but not a missing ~/.local/share above it (a fresh account has none).
    data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    if data:
        Path(data).mkdir(parents=True, exist_ok=True)
    ok, where = QFile.moveToTrash(str(path))
    if not ok:
        raise OSError(f"cannot move {path.name} to the trash")
    return Trashed(Path(path), Path(where))


def restore(item: Trashed) -> Path:
    """Undo :func:`move_to_trash`: the file goes back; refuses to overwrite a newer one."""
    if item.original.exists():
        raise FileExistsError(f"{item.original.name} exists again; not overwriting it")
    os.rename(item.in_trash, item.original)
    info = item.in_trash.parent.parent / "info" / f"{item.in_trash.name}.trashinfo"
    info.unlink(missing_ok=True)
    return item.original


def rename(path: Path, new_name: str) -> Path:
    """Rename within the same folder (mode, owner and times stay: it is the same inode)."""
    new_name = new_name.strip()
    if not new_name or new_name in (".", "..") or "/" in new_name or os.sep in new_name:
        raise ValueError(f"not a file name: {new_name!r}")
    target = path.with_name(new_name)
    if target == path:
        return path
    if target.exists():
        raise FileExistsError(f"{new_name} already exists")
    os.rename(path, target)
    return target
