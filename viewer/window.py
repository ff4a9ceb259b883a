"""The main window: folder browser, large view with seed strip, compare view."""

from __future__ import annotations

import functools
import os
import random
import threading
from pathlib import Path

from PyQt6.QtCore import QObject, QSettings, Qt, QThreadPool, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QImage, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

import sgcformat

from . import imaging
from .imageview import ZOOM_STEP, CompareView, ImageView
from .panels import FileInfo, MetadataPanel, SeedStrip
from .thumbnails import ThumbnailGrid, ThumbnailModel, list_images
from .worker import DecodeWorker

#: The seed a decoder uses when the file stores none (spec §5, SEED chunk).
DEFAULT_SEED = 0
MAX_SEED = 2**32 - 1
MAX_RECENT = 10

BROWSER, VIEWER, COMPARE = range(3)


class _Loaded(QObject):
    """Carries full-size previews from the thread pool back to the GUI thread."""

    preview = pyqtSignal(int, QImage, str)  # request token, image, error message


class MainWindow(QMainWindow):
    """SGC viewer. Construct with ``settings`` pointing at a scratch file in tests."""

    def __init__(self, settings: QSettings | None = None, thumbnail_size: int = 160,
                 generative_thumbnails: bool = True, decode_steps: int | None = None):
        super().__init__()
        self.setWindowTitle("SGC Viewer")
        self.setAcceptDrops(True)
        self.resize(1200, 800)
        self.settings = settings or QSettings("sgcformat", "sgc-viewer")
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(2, (os.cpu_count() or 2) - 1))
        self.worker = DecodeWorker(thumbnail_size=thumbnail_size, steps=decode_steps)
        self.worker.start()
        self.model = ThumbnailModel(self.worker, thumbnail_size, self.pool)
        self.model.set_generative(generative_thumbnails)
        self.model.modelMissing.connect(self._on_model_missing)

        # current file state
        self.current_path: Path | None = None
        self.info: FileInfo | None = None
        self.preview_image: QImage | None = None
        self.shown_seed: int | None = None
        self.view_mode = "sample"  # "sample", "preview" or "colors"
        self.decode_seconds: dict[int, float] = {}
        self._job: int | None = None
        self._job_seed: int | None = None
        self._task: int | None = None
        self._preview_token = 0
        self._loaded = _Loaded()
        self._loaded.preview.connect(self._on_full_preview)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)

        self._build_ui()
        self._build_actions()
        self._update_actions()

    # --- construction ---------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.grid = ThumbnailGrid()
        self.grid.setModel(self.model)
        self.grid.activated.connect(lambda index: self.open_file(self.model.path(index.row())))

        self.view = ImageView()
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet("background:#5a4a1a;color:#fff3c4;padding:6px;")
        self.banner.hide()
        self.strip = SeedStrip()
        self.strip.seedActivated.connect(self.show_seed)

        self.resample_button = QPushButton("Resample")
        self.resample_button.setToolTip("Decode again with a new random seed (R)")
        self.resample_button.clicked.connect(self.resample)
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)  # QSpinBox is 32-bit signed; seeds above are rare
        self.seed_box.setPrefix("seed ")
        self.seed_box.setKeyboardTracking(False)
        self.seed_box.lineEdit().returnPressed.connect(
            lambda: self.decode_seed(self.seed_box.value()))
        self.decode_button = QPushButton("Decode")
        self.decode_button.setToolTip("Decode the typed seed")
        self.decode_button.clicked.connect(lambda: self.decode_seed(self.seed_box.value()))
        self.keep_button = QPushButton("Keep this seed")
        self.keep_button.setToolTip("Store the shown seed in the file: every decoder will show "
                                    "this picture (K)")
        self.keep_button.clicked.connect(self.keep_seed)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Select 2–4 samples in the strip, then compare them (M)")
        self.compare_button.clicked.connect(self.compare_selected)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFixedWidth(220)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_decode)
        self.cancel_button.hide()

        controls = QHBoxLayout()
        for w in (self.resample_button, self.seed_box, self.decode_button, self.keep_button,
                  self.compare_button):
            controls.addWidget(w)
        controls.addStretch(1)
        controls.addWidget(self.progress)
        controls.addWidget(self.cancel_button)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        layout.addWidget(self.strip)
        self.viewer_page = page

        self.compare = CompareView()
        self.stack = QStackedWidget()
        for w in (self.grid, self.viewer_page, self.compare):
            self.stack.addWidget(w)
        self.setCentralWidget(self.stack)

        self.metadata = MetadataPanel()
        self.dock = QDockWidget("Details", self)
        self.dock.setObjectName("details")
        self.dock.setWidget(self.metadata)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.statusBar()

    def _action(self, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work in fullscreen too, with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self._action("&Open file…", self.choose_file, QKeySequence.StandardKey.Open))
        file_menu.addAction(self._action("Open &folder…", self.choose_folder, "Ctrl+Shift+O"))
        self.recent_menu = file_menu.addMenu("&Recent")
        self._rebuild_recent_menu()
        file_menu.addSeparator()
        self.export_action = self._action("&Export PNG…", self.choose_export, "Ctrl+E")
        self.encode_action = self._action("&Save as SGC…", self.choose_encode, "Ctrl+Shift+S")
        file_menu.addAction(self.export_action)
        file_menu.addAction(self.encode_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

        view_menu = menu.addMenu("&View")
        view_menu.addAction(self._action("&Browser", self.show_browser, "B"))
        view_menu.addAction(self._action("Zoom &in", lambda: self._zoom(ZOOM_STEP), ["+", "=", "Ctrl++"]))
        view_menu.addAction(self._action("Zoom &out", lambda: self._zoom(1 / ZOOM_STEP), ["-", "Ctrl+-"]))
        view_menu.addAction(self._action("&Fit", self._fit, ["F", "Ctrl+0"]))
        view_menu.addAction(self._action("&1:1", self._actual_size, ["1", "Ctrl+1"]))
        self.fullscreen_action = self._action("F&ull screen", self.toggle_fullscreen, "F11",
                                              checkable=True)
        view_menu.addAction(self.fullscreen_action)
        view_menu.addSeparator()
        group = QActionGroup(self)
        self.mode_actions = {}
        for mode, text, key in (("sample", "&Sample", "S"), ("preview", "&Preview", "P"),
                                ("colors", "&Colour map", "C")):
            action = self._action(text, functools.partial(self.set_view_mode, mode), key,
                                  checkable=True)
            group.addAction(action)
            view_menu.addAction(action)
            self.mode_actions[mode] = action
        self.mode_actions["sample"].setChecked(True)
        self.overlay_action = self._action("&Label map overlay", self.set_overlay, "L",
                                           checkable=True)
        view_menu.addAction(self.overlay_action)
        view_menu.addSeparator()
        self.generative_action = self._action("&Generative thumbnails", self.model.set_generative,
                                              checkable=True)
        self.generative_action.setChecked(self.model.generative)
        view_menu.addAction(self.generative_action)
        view_menu.addAction(self.dock.toggleViewAction())

        go_menu = menu.addMenu("&Go")
        go_menu.addAction(self._action("&Next", lambda: self.step(1), ["Right", "Space", "PgDown"]))
        go_menu.addAction(self._action("&Previous", lambda: self.step(-1),
                                       ["Left", "Backspace", "PgUp"]))
        go_menu.addAction(self._action("&First", lambda: self.step_to(0), "Home"))
        go_menu.addAction(self._action("&Last", lambda: self.step_to(-1), "End"))

        sample_menu = menu.addMenu("&Sample")
        self.resample_action = self._action("&Resample", self.resample, "R")
        self.keep_action = self._action("&Keep this seed", self.keep_seed, "K")
        self.compare_action = self._action("Co&mpare", self.compare_selected, "M")
        self.cancel_action = self._action("&Cancel decode / back", self.escape, "Esc")
        for action in (self.resample_action, self.keep_action, self.compare_action,
                       self.cancel_action):
            sample_menu.addAction(action)

    # --- opening ----------------------------------------------------------------------------------

    def open_paths(self, paths: list[str | Path]) -> None:
        """What ``sgc view PATH ...`` and drag-and-drop do.

        One folder: browse it. One file: browse its folder and show the file. Several
        paths: a collection of those files (folders expanded); the first is shown.
        """
        paths = [Path(p) for p in paths]
        if not paths:
            return
        if len(paths) == 1 and paths[0].is_dir():
            self.open_folder(paths[0])
        elif len(paths) == 1:
            self.open_folder(paths[0].parent, select=paths[0])
        else:
            files: list[Path] = []
            for p in paths:
                files += list_images(p) if p.is_dir() else [p]
            self.model.set_paths(files)
            self.setWindowTitle(f"SGC Viewer — {len(files)} files")
            if files:
                self.open_file(files[0])

    def open_folder(self, folder: str | Path, select: str | Path | None = None) -> None:
        folder = Path(folder)
        try:
            files = list_images(folder)
        except OSError as exc:
            self.statusBar().showMessage(f"Cannot open {folder}: {exc}")
            return
        if select is not None and Path(select) not in files:
            files.append(Path(select))
        self.model.set_paths(files)
        self.setWindowTitle(f"SGC Viewer — {folder}")
        self._add_recent(folder)
        if select is not None:
            self.open_file(select)
        else:
            self.show_browser()
        self.statusBar().showMessage(f"{len(files)} images in {folder}", 5000)

    def open_file(self, path: str | Path) -> None:
        """Show ``path`` in the large view: preview at once, then the generative decode."""
        path = Path(path)
        self.cancel_decode()
        self.current_path, self.info, self.preview_image = path, None, None
        self.shown_seed = None
        self.decode_seconds.clear()
        self.strip.clear()
        self.banner.hide()
        self.stack.setCurrentIndex(VIEWER)
        self.dock.show()
        row = self.model.row_of(path)
        if row is not None:
            self.grid.setCurrentIndex(self.model.index(row))
        self._add_recent(path)
        self.setWindowTitle(f"SGC Viewer — {path.name}")
        try:
            self.info = FileInfo.load(path)
        except Exception as exc:  # a bad file is shown as a message, never a crash
            message = _short_error(exc)
            self.view.show_message(f"{path.name}\n\n{message}")
            self.metadata.show_info(None, message)
            self._update_actions()
            return
        self.metadata.show_info(self.info)
        self.strip.set_stored_seed(self.info.stored_seed)
        if self.info.label_map is not None:
            self.view.set_overlay(imaging.label_map_image(self.info.label_map, self.info.vocab))
        else:
            self.view.set_overlay(None)
        thumb = self.model.image(row) if row is not None else None
        if thumb is not None and not thumb.isNull():
            self.view.set_image(thumb)  # at once, until the full-size preview arrives
        self._preview_token += 1
        self.pool.start(functools.partial(self._load_full_preview, self._preview_token, path), 20)
        if self.needs_model():
            self.decode_seed(self.info.stored_seed if self.info.stored_seed is not None
                             else DEFAULT_SEED)
        self._update_actions()

    def _load_full_preview(self, token: int, path: Path) -> None:
        try:
            image = imaging.load_full_preview(path)
        except Exception as exc:
            self._loaded.preview.emit(token, QImage(), _short_error(exc))
        else:
            self._loaded.preview.emit(token, image, "")

    def _on_full_preview(self, token: int, image: QImage, error: str) -> None:
        if token != self._preview_token:
            return
        if error:
            self.view.show_message(f"{self.current_path.name}\n\n{error}")
            return
        self.preview_image = image
        if self.view_mode != "sample" or not self._has_sample():
            self._refresh_view()
        self._update_actions()

    def needs_model(self) -> bool:
        return self.info is not None and self.info.profile not in (None, "preview")

    # --- decoding ---------------------------------------------------------------------------------

    def decode_seed(self, seed: int) -> None:
        """Show the sample for ``seed``: from the strip if decoded already, else decode it."""
        if not self.needs_model():
            return
        if self.strip.image(seed) is not None:
            self.show_seed(seed)
            return
        self.cancel_decode()
        self._job, self._job_seed = self.worker.decode(self.current_path, seed), seed
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"seed {seed}: starting…")
        self.progress.show()
        self.cancel_button.show()
        self._update_actions()

    def resample(self) -> None:
        """Decode again with a fresh random seed."""
        used = set(self.strip.seeds())
        seed = random.randrange(MAX_SEED + 1)
        while seed in used:
            seed = random.randrange(MAX_SEED + 1)
        self.decode_seed(seed)

    def cancel_decode(self) -> None:
        if self._job is not None:
            self.worker.cancel(self._job)

    def decoding(self) -> bool:
        return self._job is not None

    def _on_progress(self, job: int, step: int, total: int) -> None:
        if job == self._job:
            self.progress.setRange(0, total)
            self.progress.setValue(step)
            self.progress.setFormat(f"seed {self._job_seed}: step %v / %m")

    def _on_finished(self, job: int, result: object, seconds: float) -> None:
        if job == self._task:
            self._task_done(result)
            return
        if job != self._job:
            return
        seed = self._job_seed
        self._end_job()
        self.decode_seconds[seed] = seconds
        self.strip.add_sample(seed, result)
        self.show_seed(seed)

    def _on_failed(self, job: int, kind: str, message: str) -> None:
        if job == self._task:
            self._task = None
            self.progress.hide()
            text = message if kind == "missing-model" else f"Encoding failed: {message}"
            self._show_banner(text)
            self.statusBar().showMessage(text)
            return
        if job != self._job:
            return
        seed = self._job_seed
        self._end_job()
        if kind == "cancelled":
            self.statusBar().showMessage(f"Decode of seed {seed} cancelled", 4000)
        elif kind == "missing-model":
            self._show_banner(f"Showing the preview: {message}")
        else:
            self._show_banner(f"Decoding failed: {message}")
        self._refresh_view()

    def _end_job(self) -> None:
        self._job = self._job_seed = None
        self.progress.hide()
        self.cancel_button.hide()
        self._update_actions()

    def show_seed(self, seed: int) -> None:
        """Show the already decoded sample of ``seed`` (from the strip)."""
        if self.strip.image(seed) is None:
            return
        self.shown_seed = seed
        self.seed_box.setValue(min(seed, self.seed_box.maximum()))
        self.metadata.set_decode_time(self.decode_seconds.get(seed))
        if self.view_mode != "sample":
            self.set_view_mode("sample")
        else:
            self._refresh_view()
        self._update_actions()

    def shown_image(self) -> QImage | None:
        """The picture currently in the large view (sample, preview or colour map)."""
        if self.view_mode == "sample" and self._has_sample():
            return self.strip.image(self.shown_seed)
        if self.view_mode == "colors" and self.info is not None and self.info.color_map is not None:
            return imaging.array_to_qimage(self.info.color_map)
        return self.preview_image

    def _has_sample(self) -> bool:
        return self.shown_seed is not None and self.strip.image(self.shown_seed) is not None

    def set_view_mode(self, mode: str) -> None:
        self.view_mode = mode
        self.mode_actions[mode].setChecked(True)
        self._refresh_view()

    def set_overlay(self, visible: bool) -> None:
        self.overlay_action.setChecked(visible)
        self.view.set_overlay_visible(visible)

    def _refresh_view(self) -> None:
        if self.info is None:
            return
        image = self.shown_image()
        if image is not None:
            self.view.set_image(image, smooth=self.view_mode != "colors")
        if self.view_mode == "sample" and self._has_sample():
            shown = f"sample, seed {self.shown_seed}"
        elif self.view_mode == "colors":
            shown = "colour map"
        elif self.info.profile is None:
            shown = "image"
        else:
            shown = "preview (no model)"
        self.metadata.set_shown(shown)

    # --- keep seed, export, encode --------------------------------------------------------------------

    def keep_seed(self) -> None:
        """Store the shown seed in the file, preserving every other chunk byte for byte."""
        if not self._has_sample() or self.current_path is None:
            return
        sgc = sgcformat.read(self.current_path)
        sgcformat.write(self.current_path, sgc.with_seed(self.shown_seed))
        self.info.stored_seed = self.shown_seed
        self.info.file_bytes = self.current_path.stat().st_size
        self.metadata.show_info(self.info)
        self.metadata.set_decode_time(self.decode_seconds.get(self.shown_seed))
        self._refresh_view()
        self.strip.set_stored_seed(self.shown_seed)
        self.model.refresh(self.current_path)
        self._update_actions()
        self.statusBar().showMessage(
            f"Seed {self.shown_seed} stored in {self.current_path.name}", 5000)

    def export_png(self, target: str | Path) -> None:
        """Write the shown picture as PNG, with seed, profile and source in text chunks."""
        image = self.shown_image()
        if image is None:
            raise RuntimeError("nothing to export")
        sample = self.view_mode == "sample" and self._has_sample()
        imaging.export_png(image, target, seed=self.shown_seed if sample else None,
                           profile=self.info.profile if self.info else None,
                           source=self.current_path)
        self.statusBar().showMessage(f"Exported {target}", 5000)

    def choose_export(self) -> None:
        if self.shown_image() is None:
            return
        suffix = f"-seed{self.shown_seed}" if self._has_sample() else ""
        default = self.current_path.with_name(f"{self.current_path.stem}{suffix}.png")
        target, _ = QFileDialog.getSaveFileName(self, "Export PNG", str(default), "PNG (*.png)")
        if target:
            self.export_png(target)

    def encode_to(self, source: str | Path, target: str | Path, profile: str,
                  target_bytes: int | None = None, labels: str | Path | None = None) -> int:
        """Encode ``source`` on the model thread and write ``target``; returns the job id.

        Without ``labels`` the profile's segmentation model runs; when it is not
        installed the banner says which model is missing and how to get it.
        """
        source, target = Path(source), Path(target)

        def task(_cancel: threading.Event) -> str:
            sgc = sgcformat.encode(source, labels=labels, profile=profile,
                                   target_bytes=target_bytes)
            sgcformat.write(target, sgc)
            return str(target)

        self.banner.hide()
        self._task = self.worker.run_task(task)
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"encoding {source.name}…")
        self.progress.show()
        return self._task

    def _task_done(self, result: object) -> None:
        self._task = None
        self.progress.hide()
        self.statusBar().showMessage(f"Saved {result}", 5000)
        if self.model.row_of(result) is None and Path(result).parent in {
                p.parent for p in self.model.paths()}:
            self.model.set_paths([*self.model.paths(), Path(result)])

    def choose_encode(self) -> None:
        from .encode_dialog import EncodeDialog

        source = self.current_path if self.current_path and self.info and \
            self.info.profile is None else None
        dialog = EncodeDialog(self, source)
        if dialog.exec():
            self.encode_to(dialog.source(), dialog.target(), dialog.profile(),
                           dialog.target_bytes(), dialog.labels())

    # --- compare ----------------------------------------------------------------------------------

    def compare_selected(self) -> None:
        """Selected samples (2–4) side by side; the original photo joins when it is around."""
        seeds = self.strip.selected_seeds()
        if len(seeds) < 2:
            seeds = self.strip.seeds()[-4:]
        images = [(f"seed {s}", self.strip.image(s)) for s in seeds[:4]]
        original = self.original_photo()
        if original is not None and len(images) < 4:
            try:
                images.insert(0, ("original", imaging.load_full_preview(original)))
            except Exception as exc:
                self.statusBar().showMessage(f"Cannot open {original.name}: {exc}", 5000)
        if self.preview_image is not None and len(images) < 2:
            images.append(("preview", self.preview_image))
        if len(images) < 2:
            self.statusBar().showMessage("Decode at least two samples to compare", 4000)
            return
        self.compare.set_images(images)
        self.stack.setCurrentIndex(COMPARE)

    def original_photo(self) -> Path | None:
        """An ordinary image with the same name as the current ``.sgc`` (opened alongside)."""
        if self.current_path is None or not imaging.is_sgc(self.current_path):
            return None
        candidates = [p for p in self.model.paths() if p.stem == self.current_path.stem
                      and not imaging.is_sgc(p)]
        return candidates[0] if candidates else None

    # --- navigation ----------------------------------------------------------------------------------

    def step(self, delta: int) -> None:
        paths = self.model.paths()
        if not paths:
            return
        if self.stack.currentIndex() == BROWSER:
            row = max(self.grid.currentIndex().row(), 0)
            self.grid.setCurrentIndex(self.model.index((row + delta) % len(paths)))
            return
        row = self.model.row_of(self.current_path) if self.current_path else None
        self.open_file(paths[((row if row is not None else -delta) + delta) % len(paths)])

    def step_to(self, row: int) -> None:
        paths = self.model.paths()
        if not paths:
            return
        if self.stack.currentIndex() == BROWSER:
            self.grid.setCurrentIndex(self.model.index(row % len(paths)))
        else:
            self.open_file(paths[row])

    def show_browser(self) -> None:
        self.cancel_decode()
        self.stack.setCurrentIndex(BROWSER)
        self.dock.hide()
        self.grid.setFocus()
        self.grid.report_visible()

    def escape(self) -> None:
        """Esc: cancel a running decode, else leave full screen / compare / the large view."""
        if self.decoding():
            self.cancel_decode()
        elif self.isFullScreen():
            self.toggle_fullscreen()
        elif self.stack.currentIndex() == COMPARE:
            self.stack.setCurrentIndex(VIEWER)
        elif self.stack.currentIndex() == VIEWER:
            self.show_browser()

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
            self.menuBar().show()
        else:
            self.showFullScreen()
            self.menuBar().hide()
        self.fullscreen_action.setChecked(self.isFullScreen())

    def _zoom(self, factor: float) -> None:
        self._current_view().zoom_by(factor)

    def _fit(self) -> None:
        self._current_view().fit()

    def _actual_size(self) -> None:
        self._current_view().actual_size()

    def _current_view(self) -> ImageView | CompareView:
        return self.compare if self.stack.currentIndex() == COMPARE else self.view

    # --- files, recent, drag and drop ---------------------------------------------------------------

    def choose_file(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(imaging.IMAGE_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", f"Images ({patterns})")
        if path:
            self.open_paths([path])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder")
        if folder:
            self.open_folder(folder)

    def recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _add_recent(self, path: Path) -> None:
        entry = str(Path(path).resolve())
        recent = [entry, *(p for p in self.recent() if p != entry)][:MAX_RECENT]
        self.settings.setValue("recent", recent)
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for entry in self.recent():
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(functools.partial(self.open_paths, [entry]))
        self.recent_menu.setEnabled(bool(self.recent()))

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # --- misc ---------------------------------------------------------------------------------------

    def _show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.show()

    def _on_model_missing(self, profile: str, message: str) -> None:
        self.statusBar().showMessage(f"Generative thumbnails off for {profile}: {message}")

    def _update_actions(self) -> None:
        model = self.needs_model()
        has_sample = self._has_sample()
        for w in (self.resample_button, self.resample_action, self.seed_box, self.decode_button):
            w.setEnabled(model)
        for w in (self.keep_button, self.keep_action):
            w.setEnabled(has_sample and self.info.stored_seed != self.shown_seed)
        self.compare_action.setEnabled(self.info is not None)
        self.compare_button.setEnabled(self.info is not None)
        self.export_action.setEnabled(self.info is not None)

    def closeEvent(self, event) -> None:
        self.pool.clear()
        self.worker.stop()
        self.pool.waitForDone()
        super().closeEvent(event)


def _short_error(exc: BaseException) -> str:
    if isinstance(exc, sgcformat.SgcFormatError):
        return f"Not a valid SGC file: {exc}"
    if isinstance(exc, OSError):
        return f"Cannot read the file: {exc.strerror or exc}"
    return f"Cannot open this file: {exc}"
