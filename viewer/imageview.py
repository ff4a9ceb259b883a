"""Zoomable, pannable picture views: the large view and the synchronised compare grid."""

from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPixmap, QTransform
from PyQt6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.02, 64.0


class ImageView(QGraphicsView):
    """One picture (plus an optional label-map overlay) with fit / 1:1 / zoom / drag-to-pan.

    ``viewChanged`` fires after any user zoom or pan so other views can follow
    (see :class:`CompareView`); the state it carries is resolution-independent.
    """

    viewChanged = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor(32, 32, 34))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay = QGraphicsPixmapItem(self._item)
        self._overlay.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self._overlay.setOpacity(0.45)
        self._overlay.setVisible(False)
        self._message = QGraphicsSimpleTextItem()
        self._message.setBrush(QColor(235, 235, 235))
        font = QFont()
        font.setPixelSize(16)
        self._message.setFont(font)
        for item in (self._item, self._message):
            self.scene().addItem(item)
        self._fit = True
        self.horizontalScrollBar().valueChanged.connect(self._user_moved)
        self.verticalScrollBar().valueChanged.connect(self._user_moved)
        self._syncing = False

    # --- content ----------------------------------------------------------------------------

    def set_image(self, image: QImage | None, *, smooth: bool = True) -> None:
        """Show ``image``; keeps the zoom and position when the size is unchanged."""
        self._message.setVisible(False)
        old = self._item.pixmap().size()
        pixmap = QPixmap.fromImage(image) if image is not None and not image.isNull() else QPixmap()
        mode = (Qt.TransformationMode.SmoothTransformation if smooth
                else Qt.TransformationMode.FastTransformation)
        self._item.setTransformationMode(mode)
        self._item.setPixmap(pixmap)
        self._item.setVisible(not pixmap.isNull())
        self._layout_overlay()
        self.scene().setSceneRect(QRectF(pixmap.rect()) if not pixmap.isNull() else QRectF())
        if self._fit or old != pixmap.size():
            self.fit()

    def image_size(self):
        return self._item.pixmap().size()

    def has_image(self) -> bool:
        return not self._item.pixmap().isNull() and self._item.isVisible()

    def show_message(self, text: str) -> None:
        """Replace the picture by a message (e.g. why the file cannot be shown)."""
        self._item.setVisible(False)
        self._message.setText(text)
        self._message.setVisible(True)
        rect = self._message.boundingRect()
        self.scene().setSceneRect(rect.adjusted(-20, -20, 20, 20))
        self.resetTransform()
        self.centerOn(rect.center())

    def set_overlay(self, image: QImage | None) -> None:
        """A low-resolution map stretched over the picture, cells kept sharp."""
        self._overlay.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        self._layout_overlay()

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay.setVisible(visible)

    def overlay_visible(self) -> bool:
        return self._overlay.isVisible()

    def _layout_overlay(self) -> None:
        overlay, base = self._overlay.pixmap(), self._item.pixmap()
        if overlay.isNull() or base.isNull():
            return
        self._overlay.setTransform(QTransform.fromScale(base.width() / overlay.width(),
                                                        base.height() / overlay.height()))

    # --- zoom and pan -------------------------------------------------------------------------

    def zoom(self) -> float:
        return self.transform().m11()

    def fit_zoom(self) -> float:
        size = self._item.pixmap().size()
        if size.isEmpty():
            return 1.0
        view = self.viewport().size()
        return min(view.width() / size.width(), view.height() / size.height())

    def is_fit(self) -> bool:
        return self._fit

    def fit(self) -> None:
        self._fit = True
        self._apply_zoom(self.fit_zoom())
        self.centerOn(self._item.boundingRect().center())
        self.viewChanged.emit()

    def actual_size(self) -> None:
        self._fit = False
        self._apply_zoom(1.0)
        self.viewChanged.emit()

    def zoom_by(self, factor: float, under_mouse: bool = False) -> None:
        self._fit = False
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse if under_mouse
                                     else QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self._apply_zoom(self.zoom() * factor)
        self.viewChanged.emit()

    def _apply_zoom(self, zoom: float) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self.setTransform(QTransform.fromScale(zoom, zoom))

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.zoom_by(ZOOM_STEP ** steps, under_mouse=True)
            event.accept()
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit:
            self._apply_zoom(self.fit_zoom())
            self.centerOn(self._item.boundingRect().center())

    def _user_moved(self) -> None:
        if not self._syncing:
            self.viewChanged.emit()

    # --- synchronisation ------------------------------------------------------------------------

    def view_state(self) -> tuple[float, float, float]:
        """(zoom relative to fit, centre x, centre y as fractions of the picture)."""
        size = self._item.pixmap().size()
        if size.isEmpty():
            return (1.0, 0.5, 0.5)
        centre = self.mapToScene(self.viewport().rect().center())
        return (self.zoom() / self.fit_zoom(), centre.x() / size.width(),
                centre.y() / size.height())

    def apply_view_state(self, state: tuple[float, float, float], fit: bool) -> None:
        size = self._item.pixmap().size()
        if size.isEmpty():
            return
        self._syncing = True
        try:
            self._fit = fit
            self._apply_zoom(state[0] * self.fit_zoom())
            self.centerOn(QPointF(state[1] * size.width(), state[2] * size.height()))
        finally:
            self._syncing = False


class CompareView(QWidget):
    """2–4 pictures side by side; zooming or panning one moves them all."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.views: list[ImageView] = []
        self._syncing = False

    def set_images(self, images: list[tuple[str, QImage]]) -> None:
        """``(caption, image)`` pairs, laid out in one row (two rows for four)."""
        for view in self.views:
            view.parentWidget().deleteLater()
        self.views = []
        columns = 2 if len(images) == 4 else max(1, len(images))
        for i, (caption, image) in enumerate(images):
            cell = QWidget(self)
            layout = QVBoxLayout(cell)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setSpacing(0)
            view = ImageView(cell)
            view.set_image(image)
            label = QLabel(caption, cell)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(view, 1)
            layout.addWidget(label)
            self._grid.addWidget(cell, i // columns, i % columns)
            view.viewChanged.connect(lambda v=view: self._follow(v))
            self.views.append(view)

    def _follow(self, leader: ImageView) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            state = leader.view_state()
            for view in self.views:
                if view is not leader:
                    view.apply_view_state(state, leader.is_fit())
        finally:
            self._syncing = False

    def zoom_by(self, factor: float) -> None:
        if self.views:
            self.views[0].zoom_by(factor)

    def fit(self) -> None:
        for view in self.views:
            view.fit()

    def fit_when_laid_out(self) -> None:
        """Fit now and again once the new cells have their final size (they have none yet)."""
        self.fit()
        QTimer.singleShot(0, self.fit)

    def actual_size(self) -> None:
        if self.views:
            self.views[0].actual_size()
