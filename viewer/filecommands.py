"""File commands on the selected (or shown) file: clipboard, trash with undo, rename.

They act on whatever the user points at — the grid's current file in the browser,
the file on screen elsewhere — and keep the grid, the title and the large view in
step with what happened on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import QInputDialog, QMessageBox

from . import fileops, imaging

if TYPE_CHECKING:
    from .window import MainWindow


class FileCommands:
    """The Edit and File-menu commands that change or copy files, for one window."""

    def __init__(self, window: MainWindow):
        self._w = window
        self._trashed: list[fileops.Trashed] = []

    def selected_path(self) -> Path | None:
        w = self._w
        if not w.in_browser():
            return w.current_path
        index = w.grid.currentIndex()
        return w.model.path(index.row()) if index.isValid() else None

    def can_undo(self) -> bool:
        return bool(self._trashed)

    def copy_image(self) -> None:
        """Ctrl+C: the pixels on screen (in the browser: the selected file's picture)."""
        w = self._w
        if w.in_browser():
            path = self.selected_path()
            if path is None:
                return
            try:
                image = imaging.load_full_preview(path)
            except Exception as exc:
                w.statusBar().showMessage(f"Cannot copy {path.name}: {imaging.describe_error(exc)}",
                                          5000)
                return
        else:
            image = w.shown_image()
            if image is None:
                return
        QGuiApplication.clipboard().setImage(image)
        w.statusBar().showMessage(f"Copied {image.width()} × {image.height()} pixels", 3000)

    def copy_path(self) -> None:
        path = self.selected_path()
        if path is not None:
            QGuiApplication.clipboard().setText(str(path.resolve()))

    def trash(self) -> None:
        """Move the selected (or shown) file to the trash; Ctrl+Z brings it back."""
        w = self._w
        path = self.selected_path()
        if path is None:
            return
        try:
            item = fileops.move_to_trash(path)
        except OSError as exc:
            w.statusBar().showMessage(str(exc), 5000)
            return
        self._trashed.append(item)
        following = self._neighbour(path)
        w.forget_files([path])
        if not w.in_browser():
            if following is not None:
                w.open_file(following)
            else:
                w.show_browser()
        w.statusBar().showMessage(f"Moved {path.name} to the trash (Ctrl+Z undoes)", 8000)
        w.update_actions()

    def undo_trash(self) -> None:
        w = self._w
        if not self._trashed:
            return
        item = self._trashed.pop()
        try:
            path = fileops.restore(item)
        except OSError as exc:
            w.statusBar().showMessage(f"Cannot restore {item.original.name}: {exc}", 5000)
            return
        if w.watcher.folder is not None and path.parent == w.watcher.folder:
            w.model.add_paths([path])
        w.statusBar().showMessage(f"Restored {path.name}", 5000)
        w.update_actions()

    def choose_rename(self) -> None:
        path = self.selected_path()
        if path is None:
            return
        name, ok = QInputDialog.getText(self._w, "Rename", "New name:", text=path.name)
        if ok and name:
            try:
                self.rename(path, name)
            except (OSError, ValueError) as exc:
                QMessageBox.warning(self._w, "Rename", str(exc))

    def rename(self, path: Path, new_name: str) -> Path:
        """F2: rename within the folder; the grid, title and watcher follow."""
        w = self._w
        target = fileops.rename(Path(path), new_name)
        w.model.rename_path(Path(path), target)
        w.watcher.rescan()
        if w.current_path == Path(path):
            w.current_path = target
            if w.info is not None:
                w.info.path = target
                w.metadata.show_info(w.info)
            if not w.in_browser():
                w.setWindowTitle(f"SGC Viewer — {target.name}")
        w.statusBar().showMessage(f"Renamed to {target.name}", 5000)
        return target

    def _neighbour(self, path: Path) -> Path | None:
        paths = self._w.model.paths()
        row = self._w.model.row_of(path)
        if row is None or len(paths) < 2:
            return None
        return paths[row + 1] if row + 1 < len(paths) else paths[row - 1]
