"""The "Save as SGC…" dialog: which image, which decoder profile, how many bytes."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

import sgcformat

from . import imaging

#: A typical paper-sized file (≈ 0.02 bpp at 512×512).
DEFAULT_TARGET_BYTES = 700


class EncodeDialog(QDialog):
    """Collects the arguments of :meth:`MainWindow.encode_to`; encoding runs on the model thread."""

    def __init__(self, parent: QWidget | None = None, source: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Save as SGC")
        form = QFormLayout(self)
        self._source = self._path_row(form, "Image", str(source or ""), self._browse_source)
        self._labels = self._path_row(form, "Label map (optional)", "", self._browse_labels)
        self._labels.setPlaceholderText("none: the profile's segmentation model runs")
        self._profile = QComboBox()
        for entry in sgcformat.PROFILES.values():
            if entry.vocab is not None:
                self._profile.addItem(f"{entry.name} — {entry.description}", entry.name)
        form.addRow("Profile", self._profile)
        self._bytes = QSpinBox()
        self._bytes.setRange(0, 1_000_000)
        self._bytes.setSpecialValueText("default grids")
        self._bytes.setSuffix(" bytes")
        self._bytes.setValue(DEFAULT_TARGET_BYTES)
        form.addRow("Target size", self._bytes)
        default_target = str(source.with_suffix(sgcformat.EXTENSION)) if source else ""
        self._target = self._path_row(form, "Save to", default_target, self._browse_target)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _path_row(self, form: QFormLayout, label: str, value: str, browse) -> QLineEdit:
        edit = QLineEdit(value)
        button = QPushButton("…")
        button.clicked.connect(browse)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        form.addRow(label, row)
        return edit

    def _browse_source(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(imaging.IMAGE_SUFFIXES - {".sgc"}))
        path, _ = QFileDialog.getOpenFileName(self, "Image to encode", self._source.text(),
                                              f"Images ({patterns})")
        if path:
            self._source.setText(path)
            if not self._target.text():
                self._target.setText(str(Path(path).with_suffix(sgcformat.EXTENSION)))

    def _browse_labels(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Label map PNG", self._source.text(),
                                              "PNG (*.png)")
        if path:
            self._labels.setText(path)

    def _browse_target(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save as SGC", self._target.text(),
                                              "SGC (*.sgc)")
        if path:
            self._target.setText(path)

    def _accept(self) -> None:
        if self._source.text() and self._target.text():
            self.accept()

    def source(self) -> Path:
        return Path(self._source.text())

    def labels(self) -> Path | None:
        return Path(self._labels.text()) if self._labels.text() else None

    def target(self) -> Path:
        return Path(self._target.text())

    def profile(self) -> str:
        return self._profile.currentData()

    def target_bytes(self) -> int | None:
        return self._bytes.value() or None
