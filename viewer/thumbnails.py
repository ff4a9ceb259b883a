"""The folder browser: a thumbnail model that fills in two passes, and its grid view.

Pass one renders the weight-free preview of every file in a thread pool (visible
items first) — a screenful appears at once. Pass two replaces ``.sgc`` previews
with generative thumbnails from the decode worker, visible items first; the
decoder's disk cache makes the second visit to a folder instant.
"""

from __future__ import annotations

import enum
import functools
import threading
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPoint,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    pyqtSignal,
)
from PyQt6.QtGui import QColor, QImage, QPixmap
from PyQt6.QtWidgets import QAbstractItemView, QListView

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


@dataclass
class _Entry:
    path: Path
    state: ThumbState = ThumbState.PENDING
    image: QImage | None = None
    pixmap: QPixmap | None = None
    message: str = ""
    profile: str | None = None


class _PreviewSignals(QObject):
    # generation, path, image (null on error), profile ("" when not SGC), error message
    done = pyqtSignal(int, str, QImage, str, str)


def list_images(folder: str | Path) -> list[Path]:
    """The images the browser shows for ``folder``, sorted by name (case-insensitive)."""
    folder = Path(folder)
    files = (p for p in folder.iterdir() if imaging.is_listed_image(p) and p.is_file())
    return sorted(files, key=lambda p: (p.name.lower(), p.name))


class ThumbnailModel(QAbstractListModel):
    """Files of the current folder (or of a list the user opened) with their thumbnails."""

    #: Emitted when a row's thumbnail changes state (for tests, benchmarks, status bar).
    thumbnailChanged = pyqtSignal(int, int)  # row, ThumbState
    modelMissing = pyqtSignal(str, str)  # profile, message

    def __init__(self, worker: DecodeWorker | None, thumbnail_size: int = 160,
                 pool: QThreadPool | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.thumbnail_size = thumbnail_size
        self.generative = worker is not None
        self._worker = worker
        self._pool = pool or QThreadPool.globalInstance()
        self._entries: list[_Entry] = []
        self._rows: dict[str, int] = {}
        self._generation = 0
        #: Rows on screen (None until the view reports them) and generative work held back
        #: until their previews are in: importing torch and loading a model would otherwise
        #: compete with the first screen of previews for the GIL.
        self._visible: list[int] | None = None
        self._generative_backlog: list[str] = []
        self._claimed: set[tuple[int, str]] = set()
        self._claim_lock = threading.Lock()
        self._signals = _PreviewSignals()
        self._signals.done.connect(self._on_preview)
        self._placeholder = _solid_pixmap(thumbnail_size, QColor(60, 60, 64))
        if worker is not None:
            worker.thumbnailReady.connect(self._on_generative)
            worker.thumbnailFailed.connect(self._on_generative_failed)
            worker.modelMissing.connect(self.modelMissing)

    # --- contents -----------------------------------------------------------------------------

    def set_paths(self, paths: list[Path]) -> None:
        """Show ``paths``; work queued for the previous contents is dropped."""
        self._generation += 1
        self._pool.clear()
        if self._worker is not None:
            self._worker.set_thumbnails([])
        self.beginResetModel()
        self._entries = [_Entry(Path(p)) for p in paths]
        self._rows = {str(e.path): i for i, e in enumerate(self._entries)}
        self._visible, self._generative_backlog = None, []
        with self._claim_lock:
            self._claimed.clear()
        self.endResetModel()
        for entry in self._entries:
            self._start_preview(entry.path, priority=0)

    def paths(self) -> list[Path]:
        return [e.path for e in self._entries]

    def path(self, row: int) -> Path:
        return self._entries[row].path

    def row_of(self, path: str | Path) -> int | None:
        return self._rows.get(str(path))

    def state(self, row: int) -> ThumbState:
        return self._entries[row].state

    def image(self, row: int) -> QImage | None:
        return self._entries[row].image

    def set_generative(self, enabled: bool) -> None:
        """Turn background generative thumbnails on or off."""
        self.generative = enabled and self._worker is not None
        if self._worker is None:
            return
        self._generative_backlog = []
        if self.generative:
            self._worker.set_thumbnails(
                str(e.path) for e in self._entries
                if e.state == ThumbState.PREVIEW and _needs_model(e.profile)
            )
        else:
            self._worker.set_thumbnails([])

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
        row = self.row_of(path)
        if row is None:
            return
        self._entries[row] = _Entry(Path(path))
        with self._claim_lock:
            self._claimed.discard((self._generation, str(path)))
        self._start_preview(Path(path), priority=10)
        self._changed(row)

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
            if entry.image is None:
                return self._placeholder
            if entry.pixmap is None:
                entry.pixmap = QPixmap.fromImage(entry.image)
            return entry.pixmap
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

    def _start_preview(self, path: Path, priority: int) -> None:
        task = functools.partial(self._render_preview, self._generation, str(path))
        self._pool.start(task, priority)

    def _render_preview(self, generation: int, path: str) -> None:
        """Runs in the thread pool: never touches the model, only emits its result."""
        with self._claim_lock:
            if generation != self._generation or (generation, path) in self._claimed:
                return
            self._claimed.add((generation, path))
        profile = ""
        try:
            if imaging.is_sgc(path):
                profile = sgcformat.read(path).profile
            image = imaging.load_thumbnail(path, self.thumbnail_size)
        except Exception as exc:  # any unreadable file becomes an error tile
            self._signals.done.emit(generation, path, QImage(), profile, _short_error(exc))
        else:
            self._signals.done.emit(generation, path, image, profile, "")

    def _on_preview(self, generation: int, path: str, image: QImage, profile: str,
                    message: str) -> None:
        row = self._rows.get(path)
        if generation != self._generation or row is None:
            return
        entry = self._entries[row]
        if entry.state == ThumbState.GENERATIVE:
            return
        entry.profile = profile or None
        if message:
            entry.state, entry.message = ThumbState.ERROR, message
            entry.image = imaging.error_tile(self.thumbnail_size, message)
        else:
            entry.state, entry.image = ThumbState.PREVIEW, image
            if self.generative and _needs_model(entry.profile):
                self._generative_backlog.append(path)
        entry.pixmap = None
        self._changed(row)
        self._flush_generative()

    def _flush_generative(self) -> None:
        """Hand held-back generative thumbnails to the worker once the screen has its previews."""
        if not self._generative_backlog or not self.generative:
            return
        rows = range(len(self._entries)) if self._visible is None else self._visible
        if any(self._entries[r].state == ThumbState.PENDING for r in rows):
            return
        self._worker.add_thumbnails(self._generative_backlog)
        self._generative_backlog = []

    def _on_generative(self, path: str, image: QImage) -> None:
        row = self._rows.get(path)
        if row is None:
            return
        entry = self._entries[row]
        entry.state, entry.image, entry.pixmap = ThumbState.GENERATIVE, image, None
        self._changed(row)

    def _on_generative_failed(self, path: str, message: str) -> None:
        row = self._rows.get(path)
        if row is not None:
            self._entries[row].message = message  # the preview stays; the tooltip explains

    def _changed(self, row: int) -> None:
        index = self.index(row)
        self.dataChanged.emit(index, index)
        self.thumbnailChanged.emit(row, int(self._entries[row].state))


class ThumbnailGrid(QListView):
    """Icon grid that tells its model which rows are on screen whenever that changes."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWordWrap(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSpacing(4)
        self._visible_timer = QTimer(self, singleShot=True, interval=40)
        self._visible_timer.timeout.connect(self.report_visible)
        self.verticalScrollBar().valueChanged.connect(lambda _v: self._visible_timer.start())

    def setModel(self, model: ThumbnailModel) -> None:
        super().setModel(model)
        size = model.thumbnail_size
        self.setIconSize(QSize(size, size))
        self.setGridSize(QSize(size + 16, size + 28))
        model.modelReset.connect(self._visible_timer.start)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._visible_timer.start()

    def visible_rows(self) -> list[int]:
        """Rows whose cells intersect the viewport, in reading order."""
        model = self.model()
        if model is None or model.rowCount() == 0:
            return []
        rect = self.viewport().rect()
        first = self.indexAt(rect.topLeft() + QPoint(4, 4))
        row = first.row() if first.isValid() else 0
        rows = []
        # Cells are laid out in reading order, so scan forward from the first visible one.
        while row < model.rowCount():
            if self.visualRect(model.index(row)).top() > rect.bottom():
                break
            if self.visualRect(model.index(row)).intersects(rect):
                rows.append(row)
            row += 1
        return rows

    def report_visible(self) -> None:
        model = self.model()
        if isinstance(model, ThumbnailModel):
            model.prioritize(self.visible_rows())


def _needs_model(profile: str | None) -> bool:
    return profile is not None and profile != "preview"


def _short_error(exc: BaseException) -> str:
    kind = "Not a valid SGC file" if isinstance(exc, sgcformat.SgcFormatError) else "Cannot open"
    detail = str(exc).split("\n")[0]
    return f"{kind}: {detail}" if detail else kind


def _solid_pixmap(size: int, colour: QColor) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(colour)
    return pixmap
