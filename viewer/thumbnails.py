"""The folder browser's model: files with thumbnails that fill in two passes.

Pass one renders the weight-free preview of every file in a thread pool (visible
items first) — a screenful appears at once. Pass two replaces ``.sgc`` previews
with generative thumbnails from the decode worker, visible items first; the
decoder's disk cache makes the second visit to a folder instant.

The model also sorts and filters its rows itself (instead of a proxy model), so a
row number means the same thing to the grid, the navigation keys and the tests.
"""

from __future__ import annotations

import enum
import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    Qt,
    QThreadPool,
    QTimer,
    pyqtSignal,
)
from PyQt6.QtGui import QImage

import sgcformat

from . import imaging
from .worker import DecodeWorker


class ThumbState(enum.IntEnum):
    PENDING = 0
    PREVIEW = 1  # weight-free preview (or the picture itself for ordinary images)
    GENERATIVE = 2  # generative decode with the file's stored seed
    ERROR = 3


PathRole = Qt.ItemDataRole.UserRole + 1
StateRole = Qt.ItemDataRole.UserRole + 2
MessageRole = Qt.ItemDataRole.UserRole + 3

#: Previews handed to the thread pool per event-loop pass (more than a screenful).
PREVIEW_CHUNK = 150

#: Sort keys the browser offers, with their menu names.
SORT_KEYS = {"name": "Name", "date": "Date", "size": "File size", "bpp": "bpp",
             "vocab": "Vocabulary"}


@dataclass
class _Entry:
    path: Path
    state: ThumbState = ThumbState.PENDING
    image: QImage | None = None
    #: The weight-free preview, kept when a generative thumbnail replaces it.
    preview: QImage | None = None
    message: str = ""
    profile: str | None = None
    vocab: str | None = None
    width: int = 0
    height: int = 0
    file_bytes: int = 0
    mtime: float = 0.0


    def sort_key(self, key: str) -> tuple:
        """Comparable for every entry: files whose value is unknown (yet) sort last."""
        name = (self.path.name.lower(), self.path.name)
        if key in ("date", "size"):  # known once the preview pass has looked at the file
            value = self.mtime if key == "date" else self.file_bytes
            return (0, value, name) if self.mtime else (1, 0, name)
        if key == "bpp":
            known = self.width > 0 and self.height > 0
            return (0, 8 * self.file_bytes / (self.width * self.height), name) if known \
                else (1, 0.0, name)
        if key == "vocab":
            return (0, self.vocab, name) if self.vocab else (1, "", name)
        return (0, 0, name)


class _PreviewSignals(QObject):
    # generation, path, image (null on error),
    # facts (profile, vocab, width, height, file bytes, mtime), error message
    done = pyqtSignal(int, str, QImage, object, str)


def list_images(folder: str | Path) -> list[Path]:
    """The images the browser shows for ``folder``, sorted by name (case-insensitive).

    ``scandir`` knows file types from the directory itself: no stat per file.
    """
    folder = Path(folder)
    with os.scandir(folder) as entries:
        names = [e.name for e in entries
                 if os.path.splitext(e.name)[1].lower() in imaging.IMAGE_SUFFIXES and e.is_file()]
    return [folder / name for name in sorted(names, key=lambda n: (n.lower(), n))]


class ThumbnailModel(QAbstractListModel):
    """Files of the current folder (or of a list the user opened) with their thumbnails."""

    #: Emitted when a row's thumbnail changes state (for tests, benchmarks, status bar).
    thumbnailChanged = pyqtSignal(int, int)  # row, ThumbState
    modelMissing = pyqtSignal(str, str)  # profile, message

    def __init__(self, worker: DecodeWorker | None, thumbnail_size: int = 160,
                 pool: QThreadPool | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.thumbnail_size = thumbnail_size
        #: Thumbnails are rendered at ``thumbnail_size × device_pixel_ratio`` pixels.
        self.device_pixel_ratio = 1.0
        self.generative = worker is not None
        self._worker = worker
        self._pool = pool or QThreadPool.globalInstance()
        self._all: dict[str, _Entry] = {}  # every file, shown or filtered out
        self._entries: list[_Entry] = []  # the rows, filtered and sorted
        self._rows: dict[str, int] = {}
        self._sort, self._descending, self._filter = "name", False, ""
        self._generation = 0
        self._closed = False
        #: Previews still to hand to the thread pool, fed a chunk per event-loop pass.
        self._unstarted: list[Path] = []
        #: Rows on screen (None until the view reports them) and generative work held back
        #: until their previews are in: importing torch and loading a model would otherwise
        #: compete with the first screen of previews for the GIL.
        self._visible: list[int] | None = None
        self._generative_backlog: list[str] = []
        self._claimed: set[tuple[int, str]] = set()
        self._claim_lock = threading.Lock()
        self._signals = _PreviewSignals(self)  # a child: lives exactly as long as the model
        self._signals.done.connect(self._on_preview)
        # Sorting by anything but the name needs facts that arrive with the previews.
        self._resort_timer = QTimer(self, singleShot=True, interval=250)
        self._resort_timer.timeout.connect(self._reorder)
        if worker is not None:
            worker.thumbnailReady.connect(self._on_generative)
            worker.thumbnailFailed.connect(self._on_generative_failed)
            worker.modelMissing.connect(self.modelMissing)

    # --- contents -----------------------------------------------------------------------------

    def set_paths(self, paths: list[Path]) -> None:
        """Show ``paths``; work queued for the previous contents is dropped."""
        self._new_generation()
        if self._worker is not None:
            self._worker.set_thumbnails([])
        self.beginResetModel()
        self._all = {}
        for p in paths:
            entry = _Entry(p if isinstance(p, Path) else Path(p))
            self._all[str(entry.path)] = entry
        self._entries = self._ordered()
        self._index_rows()
        self._visible, self._generative_backlog = None, []
        self.endResetModel()
        self._unstarted = [entry.path for entry in self._entries]  # in the order shown
        self._feed_previews()

    def _feed_previews(self) -> None:
        """Queue the next chunk of previews; the rest wait for a later event-loop pass, so
        opening a large folder never spends one long pass creating a task per file."""
        chunk, self._unstarted = self._unstarted[:PREVIEW_CHUNK], self._unstarted[PREVIEW_CHUNK:]
        for path in chunk:
            self._start_preview(path, priority=0)
        if self._unstarted:
            QTimer.singleShot(0, self._feed_previews)

    def add_paths(self, paths: list[Path]) -> None:
        """New files (e.g. found by the folder watcher): inserted where the sort puts them."""
        new = [_Entry(Path(p)) for p in paths if str(p) not in self._all]
        for entry in new:
            self._all[str(entry.path)] = entry
        order = self._ordered()
        new_ids = {id(e) for e in new}
        # Ascending: once the rows before it are in, each new row's place is exact.
        for row in (i for i, e in enumerate(order) if id(e) in new_ids):
            self.beginInsertRows(QModelIndex(), row, row)
            self._entries.insert(row, order[row])
            self.endInsertRows()
            self._start_preview(order[row].path, priority=10)
        self._index_rows()

    def remove_paths(self, paths: list[Path]) -> None:
        """Forget files (deleted, moved to the trash, renamed away)."""
        for p in paths:
            self._all.pop(str(p), None)
            row = self._rows.get(str(p))
            if row is not None:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._entries[row]
                self._index_rows()
                self.endRemoveRows()
        if self._worker is not None:
            self._worker.set_thumbnails(p for p in self._worker_queue() if p in self._all)

    def paths(self) -> list[Path]:
        """The rows' files, in the order shown."""
        return [e.path for e in self._entries]

    def all_paths(self) -> list[Path]:
        """Every file, including those the filter hides."""
        return [e.path for e in self._all.values()]

    def path(self, row: int) -> Path:
        return self._entries[row].path

    def row_of(self, path: str | Path) -> int | None:
        return self._rows.get(str(path))

    def state(self, row: int) -> ThumbState:
        return self._entries[row].state

    def image(self, row: int) -> QImage | None:
        return self._entries[row].image

    def set_generative(self, enabled: bool) -> None:
        """Turn background generative thumbnails on or off; off brings the previews back."""
        self.generative = enabled and self._worker is not None
        if self._worker is None:
            return
        self._generative_backlog = []
        if self.generative:
            self._worker.set_thumbnails(
                str(e.path) for e in self._entries
                if e.state == ThumbState.PREVIEW and _needs_model(e.profile)
            )
            return
        self._worker.set_thumbnails([])
        for row, entry in enumerate(self._entries):
            if entry.state == ThumbState.GENERATIVE and entry.preview is not None:
                entry.state, entry.image = ThumbState.PREVIEW, entry.preview
                self._changed(row)

    def set_thumbnail_size(self, size: int, device_pixel_ratio: float | None = None) -> None:
        """Render every preview again at ``size`` (visible rows first); old ones stay meanwhile."""
        if device_pixel_ratio is not None:
            self.device_pixel_ratio = device_pixel_ratio
        if size == self.thumbnail_size and device_pixel_ratio is None:
            return
        self.thumbnail_size = size
        if self._worker is not None:
            self._worker.thumbnail_size = self.pixel_size()
        self._new_generation()
        visible = set(self._visible or [])
        for row, entry in enumerate(self._entries):
            self._start_preview(entry.path, priority=10 if row in visible else 0)
        self.layoutChanged.emit()  # cell sizes changed

    def pixel_size(self) -> int:
        """The thumbnail's size in device pixels."""
        return max(1, round(self.thumbnail_size * self.device_pixel_ratio))

    def prioritize(self, rows: list[int]) -> None:
        """Rows now on screen: their previews and generative thumbnails go first."""
        rows = [r for r in rows if 0 <= r < len(self._entries)]
        self._visible = rows
        for r in rows:
            if self._entries[r].state == ThumbState.PENDING:
                self._start_preview(self._entries[r].path, priority=10)
        if self._worker is not None:
            self._worker.set_visible(str(self._entries[r].path) for r in rows)
        self._flush_generative()

    def refresh(self, path: str | Path) -> None:
        """Forget a file's thumbnail and render it again (after it changed on disk)."""
        entry = self._all.get(str(path))
        if entry is None:
            return
        entry.state, entry.image, entry.preview, entry.message = ThumbState.PENDING, None, None, ""
        with self._claim_lock:
            self._claimed.discard((self._generation, str(path)))
        self._start_preview(Path(path), priority=10)
        row = self._rows.get(str(path))
        if row is not None:
            self._changed(row)

    def rename_path(self, old: Path, new: Path) -> None:
        """A file was renamed: keep its thumbnail, move its row where the sort puts it."""
        entry = self._all.pop(str(old), None)
        if entry is None:
            return
        entry.path = Path(new)
        self._all[str(entry.path)] = entry
        self._reorder()

    # --- sorting and filtering -----------------------------------------------------------------

    def set_sort(self, key: str, descending: bool = False) -> None:
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}")
        self._sort, self._descending = key, descending
        self._reorder()

    def sort_key(self) -> tuple[str, bool]:
        return self._sort, self._descending

    def set_filter(self, text: str) -> None:
        """Show only files whose name contains ``text`` (case-insensitive)."""
        self._filter = text.strip().lower()
        self.beginResetModel()
        self._entries = self._ordered()
        self._index_rows()
        self._visible = None
        self.endResetModel()
        for entry in self._entries:
            if entry.state == ThumbState.PENDING:
                self._start_preview(entry.path, priority=0)

    def _ordered(self) -> list[_Entry]:
        entries = [e for e in self._all.values() if self._filter in e.path.name.lower()]
        entries.sort(key=lambda e: e.sort_key(self._sort), reverse=self._descending)
        return entries

    def _reorder(self) -> None:
        """Re-sort in place; selections and the current item follow their files."""
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        followed = [self._entries[i.row()].path if i.isValid() else None for i in persistent]
        self._entries = self._ordered()
        self._index_rows()
        self.changePersistentIndexList(persistent, [
            self.index(self._rows[str(p)]) if p is not None and str(p) in self._rows
            else QModelIndex() for p in followed])
        self.layoutChanged.emit()

    def _index_rows(self) -> None:
        self._rows = {str(e.path): i for i, e in enumerate(self._entries)}

    # --- Qt model interface -------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.path.name
        if role == Qt.ItemDataRole.DecorationRole:
            return entry.image
        if role == Qt.ItemDataRole.ToolTipRole:
            state = {
                ThumbState.PENDING: "loading…",
                ThumbState.PREVIEW: "preview (no model)" if entry.profile else "image",
                ThumbState.GENERATIVE: "generated with the stored seed",
                ThumbState.ERROR: entry.message,
            }[entry.state]
            return f"{entry.path.name}\n{state}"
        if role == PathRole:
            return str(entry.path)
        if role == StateRole:
            return int(entry.state)
        if role == MessageRole:
            return entry.message
        return None

    # --- background work ------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Drop all queued work and wait for running previews (before the window goes)."""
        self._closed = True
        self._new_generation()
        self._pool.waitForDone()

    def _new_generation(self) -> None:
        self._generation += 1
        self._unstarted = []
        self._pool.clear()
        with self._claim_lock:
            self._claimed.clear()

    def _worker_queue(self) -> list[str]:
        return [] if self._worker is None else self._worker.queued_thumbnails()

    def _start_preview(self, path: Path, priority: int) -> None:
        if self._closed:
            return
        task = functools.partial(self._render_preview, self._generation, str(path),
                                 self.pixel_size(), self.device_pixel_ratio)
        self._pool.start(task, priority)

    def _render_preview(self, generation: int, path: str, pixels: int, ratio: float) -> None:
        """Runs in the thread pool: never touches the model, only emits its result."""
        with self._claim_lock:
            if generation != self._generation or (generation, path) in self._claimed:
                return
            self._claimed.add((generation, path))
        header: tuple = (None, None, 0, 0)
        st = None
        try:
            st = os.stat(path)  # here, not on the GUI thread: 1,000 stats add up
            imaging.check_not_empty(path)
            if imaging.is_sgc(path):
                sgc = sgcformat.read(path)
                header = (sgc.profile, sgc.vocab, sgc.width, sgc.height)
            image, size = imaging.load_thumbnail(path, pixels, with_size=True)
            if not imaging.is_sgc(path):
                header = (None, None, *size)
            image.setDevicePixelRatio(ratio)
        except Exception as exc:  # any unreadable file becomes an error tile
            image, message = QImage(), _short_error(exc)
        else:
            message = ""
        facts = (*header, *((st.st_size, st.st_mtime) if st is not None else (0, 0.0)))
        if generation == self._generation:  # else the model may be gone: nobody waits for it
            self._signals.done.emit(generation, path, image, facts, message)

    def _on_preview(self, generation: int, path: str, image: QImage, facts: tuple,
                    message: str) -> None:
        entry = self._all.get(path)
        if generation != self._generation or entry is None:
            return
        (entry.profile, entry.vocab, entry.width, entry.height, entry.file_bytes,
         entry.mtime) = facts
        if message:
            entry.state, entry.message = ThumbState.ERROR, message
            entry.image = imaging.error_tile(self.pixel_size(), message)
            entry.image.setDevicePixelRatio(self.device_pixel_ratio)
        else:
            entry.preview = image
            if entry.state != ThumbState.GENERATIVE:
                entry.state, entry.image = ThumbState.PREVIEW, image
                if self.generative and _needs_model(entry.profile):
                    self._generative_backlog.append(path)
        if self._sort != "name":
            self._resort_timer.start()
        row = self._rows.get(path)
        if row is not None:
            self._changed(row)
        self._flush_generative()

    def _flush_generative(self) -> None:
        """Hand held-back generative thumbnails to the worker once the screen has its previews."""
        if not self._generative_backlog or not self.generative:
            return
        rows = range(len(self._entries)) if self._visible is None else self._visible
        if any(self._entries[r].state == ThumbState.PENDING for r in rows
               if r < len(self._entries)):
            return
        self._worker.add_thumbnails(self._generative_backlog)
        self._generative_backlog = []

    def _on_generative(self, path: str, image: QImage) -> None:
        entry = self._all.get(path)
        if entry is None or not self.generative:
            return
        image.setDevicePixelRatio(self.device_pixel_ratio)
        entry.state, entry.image = ThumbState.GENERATIVE, image
        row = self._rows.get(path)
        if row is not None:
            self._changed(row)

    def _on_generative_failed(self, path: str, message: str) -> None:
        entry = self._all.get(path)
        if entry is not None:
            entry.message = message  # the preview stays; the tooltip explains

    def _changed(self, row: int) -> None:
        index = self.index(row)
        self.dataChanged.emit(index, index)
        self.thumbnailChanged.emit(row, int(self._entries[row].state))


def _needs_model(profile: str | None) -> bool:
    return profile is not None and profile != "preview"


def _short_error(exc: BaseException) -> str:
    kind = "Not a valid SGC file" if isinstance(exc, sgcformat.SgcFormatError) else "Cannot open"
    detail = str(exc).split("\n")[0]
    return f"{kind}: {detail}" if detail else kind


__all__ = ["SORT_KEYS", "ThumbState", "ThumbnailModel", "list_images"]
