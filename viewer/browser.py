"""The browser page: thumbnail grid, its filter / sort / size controls, and folder watching."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtCore import (
    QFileSystemWatcher,
    QModelIndex,
    QObject,
    QPoint,
    QRect,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    pyqtSignal,
)
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QSlider,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .thumbnails import SORT_KEYS, ThumbnailModel, list_images

MIN_THUMB, MAX_THUMB, THUMB_STEP = 48, 384, 16
PAD = 6  # around the picture, inside a cell
#: Most files a watcher follows one by one (in-place edits); the folder itself is always watched.
MAX_WATCHED_FILES = 4096


class ThumbnailDelegate(QStyledItemDelegate):
    """Every cell the same size: a square picture area, then one line of elided name.

    The cell size comes from the thumbnail size and the font, never from the first
    item's picture, so portrait tiles and names are never clipped after a re-layout.
    """

    def __init__(self, model: ThumbnailModel, parent: QObject | None = None):
        super().__init__(parent)
        self._model = model

    def cell_size(self, option_font_metrics) -> QSize:
        size = self._model.thumbnail_size
        return QSize(size + 2 * PAD, size + 2 * PAD + option_font_metrics.height() + 2)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return self.cell_size(option.fontMetrics)

    def picture_rect(self, cell: QRect) -> QRect:
        size = self._model.thumbnail_size
        return QRect(cell.left() + PAD, cell.top() + PAD, size, size)

    def text_rect(self, cell: QRect, font_metrics) -> QRect:
        size = self._model.thumbnail_size
        return QRect(cell.left() + 2, cell.top() + 2 * PAD + size,
                     cell.width() - 4, font_metrics.height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        cell = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(cell, option.palette.highlight())
        area = self.picture_rect(cell)
        image = index.data(Qt.ItemDataRole.DecorationRole)
        if image is None or image.isNull():
            painter.fillRect(area, QColor(60, 60, 64))
        else:
            logical = image.size() / image.devicePixelRatio()
            target = logical.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio) \
                if logical.width() > area.width() or logical.height() > area.height() else logical
            x = area.left() + (area.width() - target.width()) // 2
            y = area.top() + (area.height() - target.height()) // 2
            # Scaling happens only until a re-render at a new size arrives: keep it cheap,
            # 1,000 smooth rescales per repaint would stall the event loop.
            painter.drawImage(QRect(x, y, target.width(), target.height()), image)
        text = option.fontMetrics.elidedText(index.data(Qt.ItemDataRole.DisplayRole) or "",
                                             Qt.TextElideMode.ElideMiddle, cell.width() - 4)
        painter.setPen(option.palette.highlightedText().color() if selected
                       else option.palette.text().color())
        painter.drawText(self.text_rect(cell, option.fontMetrics), Qt.AlignmentFlag.AlignCenter,
                         text)
        painter.restore()


class ThumbnailGrid(QListView):
    """Icon grid that tells its model which rows are on screen whenever that changes."""

    #: Ctrl+wheel: ``+1`` larger, ``-1`` smaller thumbnails.
    zoomRequested = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWordWrap(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSpacing(2)
        self._visible_timer = QTimer(self, singleShot=True, interval=40)
        self._visible_timer.timeout.connect(self.report_visible)
        self.verticalScrollBar().valueChanged.connect(lambda _v: self._visible_timer.start())

    def setModel(self, model: ThumbnailModel) -> None:
        super().setModel(model)
        self.delegate = ThumbnailDelegate(model, self)
        self.setItemDelegate(self.delegate)
        self.update_cell_size()
        model.modelReset.connect(self._visible_timer.start)
        model.layoutChanged.connect(self._visible_timer.start)
        model.rowsInserted.connect(self._visible_timer.start)

    def update_cell_size(self) -> None:
        """Grid cells follow the model's thumbnail size (and the font)."""
        cell = self.delegate.cell_size(self.fontMetrics())
        size = self.model().thumbnail_size
        self.setIconSize(QSize(size, size))
        self.setGridSize(cell)
        self.doItemsLayout()
        self._visible_timer.start()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._visible_timer.start()

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y()
            if steps:
                self.zoomRequested.emit(1 if steps > 0 else -1)
            event.accept()
        else:
            super().wheelEvent(event)

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


class BrowserPage(QWidget):
    """The grid under a bar with a filter box, the sort order and a thumbnail-size slider."""

    def __init__(self, model: ThumbnailModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.grid = ThumbnailGrid()
        self.grid.setModel(model)
        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter by name (Ctrl+F)")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(model.set_filter)
        self.sort_box = QComboBox()
        for key, name in SORT_KEYS.items():
            self.sort_box.addItem(f"Sort by {name.lower()}", key)
        self.sort_box.currentIndexChanged.connect(lambda _i: self._apply_sort())
        self.descending = QToolButton()
        self.descending.setCheckable(True)
        self.descending.setText("↓")
        self.descending.setToolTip("Reverse the order")
        self.descending.toggled.connect(lambda _on: self._apply_sort())
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(MIN_THUMB, MAX_THUMB)
        self.size_slider.setSingleStep(THUMB_STEP)
        self.size_slider.setPageStep(THUMB_STEP * 2)
        self.size_slider.setValue(model.thumbnail_size)
        self.size_slider.setFixedWidth(160)
        self.size_slider.setToolTip("Thumbnail size (Ctrl+wheel in the grid)")
        # Re-rendering a folder's thumbnails is work: wait until the slider rests.
        self._size_timer = QTimer(self, singleShot=True, interval=150)
        self._size_timer.timeout.connect(self._apply_size)
        self.size_slider.valueChanged.connect(lambda _v: self._size_timer.start())
        self.grid.zoomRequested.connect(
            lambda step: self.size_slider.setValue(self.size_slider.value() + step * THUMB_STEP))

        self.bar = QWidget()
        bar = QHBoxLayout(self.bar)
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(self.filter_box, 1)
        bar.addWidget(self.sort_box)
        bar.addWidget(self.descending)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Size"))
        bar.addWidget(self.size_slider)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.bar)
        layout.addWidget(self.grid, 1)

    def set_sort(self, key: str, descending: bool = False) -> None:
        self.descending.setChecked(descending)
        self.sort_box.setCurrentIndex(self.sort_box.findData(key))
        self._apply_sort()

    def _apply_sort(self) -> None:
        self.model.set_sort(self.sort_box.currentData(), self.descending.isChecked())

    def set_thumbnail_size(self, size: int) -> None:
        """Set the slider and apply at once (no debounce)."""
        self.size_slider.setValue(size)
        self._apply_size()

    def _apply_size(self) -> None:
        self._size_timer.stop()
        self.model.set_thumbnail_size(self.size_slider.value())
        self.grid.update_cell_size()


class FolderWatcher(QObject):
    """Follows one folder: new, changed and deleted images update the grid.

    The folder's inotify watch reports files appearing, going and being replaced (the
    atomic writes of every SGC tool); per-file watches report in-place edits. Changes
    arrive in bursts, so one rescan runs after things have been quiet for a moment,
    in the thread pool: listing and stat-ing 1,000 files must not stall the GUI.
    """

    added = pyqtSignal(list)  # list[Path]
    removed = pyqtSignal(list)
    changed = pyqtSignal(list)
    #: A rescan was compared with what the grid has (whether or not anything changed).
    scanFinished = pyqtSignal()
    _scanned = pyqtSignal(int, object)  # scan token, {path: (mtime_ns, size)}

    def __init__(self, pool: QThreadPool, parent: QObject | None = None, delay_ms: int = 200):
        super().__init__(parent)
        self._pool = pool
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._schedule)
        self._watcher.fileChanged.connect(self._schedule)
        self._timer = QTimer(self, singleShot=True, interval=delay_ms)
        self._timer.timeout.connect(self.rescan)
        self._scanned.connect(self._compare)
        self.folder: Path | None = None
        #: What the grid has; ``None`` signatures are not known yet (the first scan fills them).
        self._known: dict[Path, tuple[int, int] | None] = {}
        self._token = 0

    def watch(self, folder: Path | None, files: Sequence[Path] = ()) -> None:
        """Follow ``folder`` (``None``: nothing) whose current images are ``files``."""
        self._timer.stop()
        self._token += 1
        for kind in (self._watcher.directories(), self._watcher.files()):
            if kind:
                self._watcher.removePaths(kind)
        self.folder = folder
        self._known = dict.fromkeys(files)
        if folder is not None:
            self._watcher.addPath(str(folder))
            # Per-file watches and the baseline scan in a later event-loop pass: opening
            # the folder shows the grid first.
            token = self._token
            QTimer.singleShot(0, lambda: self._start_following(token, list(files)))

    def _start_following(self, token: int, files: list[Path]) -> None:
        if token == self._token:
            self._watch_files(files)
            self.rescan()  # the baseline signatures

    def _watch_files(self, files: list[Path]) -> None:
        room = MAX_WATCHED_FILES - len(self._watcher.files())
        if room > 0 and files:
            self._watcher.addPaths([str(p) for p in files[:room]])

    def _schedule(self, _path: str) -> None:
        self._timer.start()

    def rescan(self) -> None:
        """Scan the folder in the thread pool; the comparison comes back as signals."""
        if self.folder is not None:
            self._pool.start(functools.partial(self._scan, self._token, self.folder))

    def _scan(self, token: int, folder: Path) -> None:
        try:
            now = {p: _signature(p) for p in list_images(folder)}
        except OSError:
            now = {}
        if token == self._token:
            self._scanned.emit(token, now)

    def _compare(self, token: int, now: dict) -> None:
        if token != self._token:
            return  # the folder changed meanwhile
        added = sorted(p for p in now if p not in self._known)
        removed = sorted(p for p in self._known if p not in now)
        changed = sorted(p for p in now if self._known.get(p) not in (None, now[p]))
        self._known = now
        self._watch_files(added + changed)  # a replaced file is a new inode
        for signal, paths in ((self.removed, removed), (self.added, added),
                              (self.changed, changed)):
            if paths:
                signal.emit(paths)
        self.scanFinished.emit()


def _signature(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)
