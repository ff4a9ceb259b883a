"""Side and bottom panels of the large view: metadata, class legend, seed box and strip."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QEvent, QRegularExpression, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QImage, QPixmap, QRegularExpressionValidator
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

import sgcformat

from . import imaging

#: Seeds are unsigned 32-bit (spec §5): 0 … 2³²−1.
MAX_SEED = 2**32 - 1


@dataclass
class FileInfo:
    """What the metadata panel shows about one file (cheap to compute: header only)."""

    path: Path
    width: int
    height: int
    file_bytes: int
    profile: str | None = None
    vocab: str | None = None
    stored_seed: int | None = None
    label_map: np.ndarray | None = None
    color_map: np.ndarray | None = None
    format: str = "SGC"

    @property
    def bpp(self) -> float:
        return 8 * self.file_bytes / (self.width * self.height)

    @classmethod
    def load(cls, path: str | Path) -> FileInfo:
        """Header, maps and byte count; raises what the reader raises for a bad file."""
        path = Path(path)
        imaging.check_not_empty(path)
        size = path.stat().st_size
        if imaging.is_sgc(path):
            sgc = sgcformat.read(path)
            return cls(path, sgc.width, sgc.height, size, sgc.profile, sgc.vocab, sgc.seed,
                       sgc.label_map, sgc.color_map)
        from PIL import Image

        with Image.open(path) as im:
            return cls(path, im.width, im.height, size, format=im.format or "image")


class MetadataPanel(QWidget):
    """Size, bytes, bpp, models, seeds, decode time and the classes present."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self._fields: dict[str, QLabel] = {}
        for key in ("File", "Format", "Size", "File bytes", "bpp", "Profile", "Vocabulary",
                    "Stored seed",
                    "Shown", "Decode time"):
            label = QLabel("–")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            # A long file name must not widen the dock (and the window) past the screen.
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            form.addRow(key, label)
            self._fields[key] = label
        layout.addLayout(form)
        layout.addWidget(QLabel("Classes present"))
        self.legend = QListWidget()
        self.legend.setIconSize(QSize(14, 14))
        self.legend.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        layout.addWidget(self.legend, 1)

    def field(self, key: str) -> str:
        return self._fields[key].text()

    def show_info(self, info: FileInfo | None, error: str | None = None) -> None:
        for label in self._fields.values():
            label.setText("–")
        self.legend.clear()
        if info is None:
            if error:
                self._fields["File"].setText(error)
            return
        self._fields["File"].setText(info.path.name)
        self._fields["File"].setToolTip(str(info.path))
        self._fields["Size"].setText(f"{info.width} × {info.height}")
        self._fields["File bytes"].setText(f"{info.file_bytes:,}")
        self._fields["bpp"].setText(f"{info.bpp:.4f}")
        self._fields["Format"].setText(info.format)
        if info.profile is None:  # an ordinary image: no profile, vocabulary or seed
            return
        self._fields["Profile"].setText(info.profile)
        self._fields["Vocabulary"].setText(info.vocab)
        self._fields["Stored seed"].setText("none" if info.stored_seed is None
                                            else str(info.stored_seed))
        palette = imaging.class_palette(info.vocab)
        for class_id, name, share in imaging.classes_present(info.label_map, info.vocab):
            item = QListWidgetItem(_swatch(palette[class_id]),
                                   f"{name}  {imaging.format_share(share)}")
            item.setData(Qt.ItemDataRole.UserRole, class_id)
            self.legend.addItem(item)

    def set_shown(self, text: str) -> None:
        self._fields["Shown"].setText(text)

    def set_decode_time(self, seconds: float | None) -> None:
        self._fields["Decode time"].setText("–" if seconds is None else f"{seconds:.2f} s")

    def legend_names(self) -> list[str]:
        return [self.legend.item(i).text().rsplit("  ", 1)[0] for i in range(self.legend.count())]


def _swatch(rgb) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])))
    return QIcon(pixmap)


class SeedEdit(QLineEdit):
    """The typed seed: any of 0 … 2³²−1 (a ``QSpinBox`` stops at 2³¹−1).

    Letters are not seeds, so the window's one-letter shortcuts (K, R, …) still work
    while the box has focus; *Enter* emits ``seedEntered``.
    """

    seedEntered = pyqtSignal(object)  # int; ``object`` because a Qt int is 32-bit signed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,10}"), self))
        self.setPlaceholderText("seed")
        self.setToolTip(f"Seed to decode: 0 … {MAX_SEED} (Enter decodes it)")
        self.setMaximumWidth(self.fontMetrics().horizontalAdvance("0" * 14))
        self.returnPressed.connect(self._entered)

    def value(self) -> int | None:
        """The typed seed, or ``None`` when the box is empty or out of range."""
        text = self.text()
        return int(text) if text and int(text) <= MAX_SEED else None

    def set_value(self, seed: int) -> None:
        self.setText(str(seed))

    def _entered(self) -> None:
        seed = self.value()
        if seed is not None:
            self.seedEntered.emit(seed)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and _is_letter_key(event):
            event.ignore()  # not ours: let the window's shortcut have it
            return True
        return super().event(event)


def _is_letter_key(event) -> bool:
    text = event.text()
    plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                  Qt.KeyboardModifier.ShiftModifier)
    return plain and len(text) == 1 and text.isprintable() and not text.isdigit()


class SeedStrip(QListWidget):
    """The samples decoded so far for the current file, seed under each.

    Clicking one shows it; selecting 2–4 and pressing *Compare* puts them side by side.
    """

    seedActivated = pyqtSignal(object)  # int: seeds go up to 2³²−1, past a Qt int

    SeedRole = Qt.ItemDataRole.UserRole
    ImageRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QWidget | None = None, icon_size: int = 96):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(icon_size, icon_size))
        self.setGridSize(QSize(icon_size + 14, icon_size + 24))
        self.setFixedHeight(icon_size + 44)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.itemClicked.connect(lambda item: self.seedActivated.emit(item.data(self.SeedRole)))
        self._stored: int | None = None

    def add_sample(self, seed: int, image: QImage) -> None:
        """Add (or update) the sample for ``seed`` and select it."""
        item = self._item(seed)
        if item is None:
            item = QListWidgetItem()
            item.setData(self.SeedRole, seed)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.addItem(item)
        size = self.iconSize()
        item.setIcon(QIcon(QPixmap.fromImage(image.scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))))
        item.setData(self.ImageRole, image)
        self._label(item)
        self.clearSelection()
        item.setSelected(True)
        self.setCurrentItem(item)
        self.scrollToItem(item)

    def set_stored_seed(self, seed: int | None) -> None:
        self._stored = seed
        for i in range(self.count()):
            self._label(self.item(i))

    def _label(self, item: QListWidgetItem) -> None:
        seed = item.data(self.SeedRole)
        item.setText(f"★ {seed}" if seed == self._stored else str(seed))
        item.setToolTip(f"seed {seed}" + (" (stored in the file)" if seed == self._stored else ""))

    def _item(self, seed: int) -> QListWidgetItem | None:
        for i in range(self.count()):
            if self.item(i).data(self.SeedRole) == seed:
                return self.item(i)
        return None

    def seeds(self) -> list[int]:
        return [self.item(i).data(self.SeedRole) for i in range(self.count())]

    def image(self, seed: int) -> QImage | None:
        item = self._item(seed)
        return None if item is None else item.data(self.ImageRole)

    def selected_seeds(self) -> list[int]:
        return [item.data(self.SeedRole) for item in self.selectedItems()]
