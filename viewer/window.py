"""The main window: folder browser, large view with seed strip, compare view.

Menus and shortcuts live in :mod:`.actions`, the browser page in :mod:`.browser`,
what is remembered between runs in :mod:`.settings`; this module holds the state
of the file on screen and the decodes requested for it.
"""

from __future__ import annotations

import functools
import os
import random
import threading
from pathlib import Path

from PyQt6.QtCore import QObject, QSettings, Qt, QThreadPool, QTimer, pyqtSignal
from PyQt6.QtGui import QGuiApplication, QImage
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

import sgcformat

from . import imaging
from .actions import ShortcutSheet, build_actions
from .browser import BrowserPage, FolderWatcher
from .filecommands import FileCommands
from .imageview import CompareView, ImageView
from .panels import MAX_SEED, FileInfo, MetadataPanel, SeedEdit, SeedStrip
from .sampling import SampleQueue
from .settings import ViewerSettings
from .thumbnails import ThumbnailModel, list_images
from .worker import DecodeWorker

#: The seed a decoder uses when the file stores none (spec §5, SEED chunk).
DEFAULT_SEED = 0
#: The first window covers at most this share of the available screen.
SCREEN_SHARE = 0.9

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
        self.settings = ViewerSettings(settings)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(2, (os.cpu_count() or 2) - 1))
        self.worker = DecodeWorker(thumbnail_size=thumbnail_size, steps=decode_steps)
        self.worker.start()
        self.model = ThumbnailModel(self.worker, self.settings.thumbnail_size(thumbnail_size),
                                    self.pool, parent=self)
        self.model.set_generative(generative_thumbnails)
        self.model.modelMissing.connect(self._on_model_missing)

        # current file state
        self.current_path: Path | None = None
        self.info: FileInfo | None = None
        self.preview_image: QImage | None = None
        self.shown_seed: int | None = None
        self.view_mode = "sample"  # "sample", "preview" or "colors"
        self.decode_seconds: dict[int, float] = {}
        self._task: int | None = None
        self._preview_token = 0
        self.files = FileCommands(self)
        self._fullscreen_hidden: list[QWidget] = []
        self._shut_down = False
        self._collection_title = ""
        self._loaded = _Loaded(self)
        self._loaded.preview.connect(self._on_full_preview)
        self.worker.finished.connect(self._on_task_finished)
        self.worker.failed.connect(self._on_task_failed)
        self.watcher = FolderWatcher(self.pool, self)
        self.watcher.added.connect(self.model.add_paths)
        self.watcher.removed.connect(self._on_files_removed)
        self.watcher.changed.connect(self._on_files_changed)
        self.slideshow = QTimer(self, interval=self.settings.slideshow_ms())
        self.slideshow.timeout.connect(lambda: self.step(1))

        # Thumbnails are drawn at device pixels: sharp at 150 % or 200 % scaling.
        self.model.device_pixel_ratio = self.devicePixelRatioF()
        self.worker.thumbnail_size = self.model.pixel_size()
        self._build_ui()
        self.a = build_actions(self)
        self._rebuild_recent_menu()
        self._restore_window()
        self.update_actions()
        app = QGuiApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # --- construction ---------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.browser = BrowserPage(self.model)
        self.grid = self.browser.grid
        self.grid.activated.connect(lambda index: self.open_file(self.model.path(index.row())))
        self.grid.selectionModel().currentChanged.connect(lambda *_: self._update_status())
        sort_key, descending = self.settings.sort()
        self.browser.set_sort(sort_key, descending)
        self.browser.sort_box.currentIndexChanged.connect(lambda _i: self._save_sort())
        self.browser.descending.toggled.connect(lambda _on: self._save_sort())
        self.browser.size_slider.valueChanged.connect(self.settings.set_thumbnail_size)

        self.view = ImageView()
        self.view.viewChanged.connect(self._update_status)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet("background:#5a4a1a;color:#fff3c4;padding:6px;")
        self.banner.hide()
        self.strip = SeedStrip()
        self.strip.seedActivated.connect(self.show_seed)

        self.resample_button = QPushButton("Resample")
        self.resample_button.setToolTip("Decode again with a new random seed (R); "
                                        "presses during a decode queue up")
        self.resample_button.clicked.connect(self.resample)
        self.seed_box = SeedEdit()
        self.seed_box.seedEntered.connect(self._seed_entered)
        self.decode_button = QPushButton("Decode")
        self.decode_button.setToolTip("Decode the typed seed")
        self.decode_button.clicked.connect(self._decode_typed)
        self.keep_button = QPushButton("Keep this seed")
        self.keep_button.setToolTip("Store the shown seed in the file: every decoder will show "
                                    "this picture (K)")
        self.keep_button.clicked.connect(self.keep_seed)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Select 2–4 samples in the strip, then compare them (M)")
        self.compare_button.clicked.connect(self.compare_selected)
        self.samples = SampleQueue(self.worker)
        self.samples.sampleReady.connect(self._on_sample)
        self.samples.sampleFailed.connect(self._on_sample_failed)
        self.samples.busyChanged.connect(lambda _busy: self.update_actions())
        self.queue_label = self.samples.queue_label
        # Encodes (Save as SGC) run on the same thread and show their own progress here.
        self.task_progress = QProgressBar()
        self.task_progress.setFixedWidth(220)
        self.task_progress.hide()

        self.controls = QWidget()
        controls = QHBoxLayout(self.controls)
        controls.setContentsMargins(4, 0, 4, 0)
        for w in (self.resample_button, self.seed_box, self.decode_button, self.keep_button,
                  self.compare_button):
            controls.addWidget(w)
        controls.addStretch(1)
        controls.addWidget(self.samples)
        controls.addWidget(self.task_progress)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.controls)
        layout.addWidget(self.strip)
        self.viewer_page = page

        self.compare = CompareView()
        self.stack = QStackedWidget()
        for w in (self.browser, self.viewer_page, self.compare):
            self.stack.addWidget(w)
        self.setCentralWidget(self.stack)

        self.metadata = MetadataPanel()
        self.dock = QDockWidget("Details", self)
        self.dock.setObjectName("details")
        self.dock.setWidget(self.metadata)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()

        self.status = {key: QLabel() for key in ("position", "zoom", "size", "bytes")}
        for label in self.status.values():
            label.setContentsMargins(8, 0, 8, 0)
            self.statusBar().addPermanentWidget(label)

    def _restore_window(self) -> None:
        """Last run's geometry and dock layout; the first run fits the available screen."""
        geometry, state = self.settings.geometry(), self.settings.window_state()
        if geometry is None or not self.restoreGeometry(geometry):
            screen = self.screen().availableGeometry() if self.screen() else None
            width, height = 1200, 800
            if screen is not None:
                width = min(width, int(screen.width() * SCREEN_SHARE))
                height = min(height, int(screen.height() * SCREEN_SHARE))
            self.resize(width, height)
            if screen is not None:
                self.move(screen.center() - self.rect().center())
        if state is not None:
            self.restoreState(state)

    # --- opening ----------------------------------------------------------------------------------

    def open_paths(self, paths: list[str | Path]) -> None:
        """What ``sgc view PATH ...``, drag-and-drop and the Open dialogs do.

        One folder: browse it. One file: browse its folder and show the file. Several
        paths: a collection of those files (folders expanded); the first is shown.
        Only these count as opened for the Recent menu, not files stepped through.
        """
        paths = [Path(p) for p in paths]
        if not paths:
            return
        if len(paths) == 1 and paths[0].is_dir():
            self.open_folder(paths[0])
        elif len(paths) == 1:
            self.settings.add_recent(paths[0])
            self._rebuild_recent_menu()
            self.open_folder(paths[0].parent, select=paths[0])
        else:
            files: list[Path] = []
            for p in paths:
                files += list_images(p) if p.is_dir() else [p]
            self.model.set_paths(files)
            self.watcher.watch(None)
            self._collection_title = f"{len(files)} files"
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
        self.watcher.watch(folder, files)
        self._collection_title = str(folder)
        self.settings.set_last_folder(folder)
        if select is None:
            self.settings.add_recent(folder)
            self._rebuild_recent_menu()
            self.show_browser()
        else:
            self.open_file(select)
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
        if not self.isFullScreen():
            self.dock.show()
        row = self.model.row_of(path)
        if row is not None:
            self.grid.setCurrentIndex(self.model.index(row))
        self.setWindowTitle(f"SGC Viewer — {path.name}")
        try:
            self.info = FileInfo.load(path)
        except Exception as exc:  # a bad file is shown as a message, never a crash
            message = imaging.describe_error(exc)
            self.view.show_message(f"{path.name}\n\n{message}")
            self.metadata.show_info(None, message)
            self.update_actions()
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
        self.update_actions()

    def _load_full_preview(self, token: int, path: Path) -> None:
        try:
            image = imaging.load_full_preview(path)
        except Exception as exc:
            image, error = QImage(), imaging.describe_error(exc)
        else:
            error = ""
        if not self._shut_down:
            self._loaded.preview.emit(token, image, error)

    def _on_full_preview(self, token: int, image: QImage, error: str) -> None:
        if token != self._preview_token:
            return
        if error:
            self.view.show_message(f"{self.current_path.name}\n\n{error}")
            return
        self.preview_image = image
        if self.view_mode != "sample" or not self._has_sample():
            self._refresh_view()
        self.update_actions()

    def needs_model(self) -> bool:
        """Whether the current file decodes generatively (with its profile or the chosen one)."""
        if self.info is None or self.info.profile is None:
            return False  # not an .sgc file
        return (self.worker.profile or self.info.profile) != "preview"

    def set_decode_profile(self, profile: str | None, *_checked) -> None:
        """Decode every file with ``profile`` (``None``: each file's own) from now on."""
        if profile == self.worker.profile:
            return
        self.worker.profile = profile
        if self.current_path is not None and self.stack.currentIndex() == VIEWER:
            self.open_file(self.current_path)  # samples of the other profile do not stay

    # --- decoding ---------------------------------------------------------------------------------

    def decode_seed(self, seed: int) -> None:
        """Show the sample for ``seed``: from the strip if decoded already, else decode it.

        A decode asked for while another runs waits its turn: every requested sample
        lands in the strip, and the queue's length is shown beside the progress bar.
        """
        if not self.needs_model():
            return
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seeds are 0 … {MAX_SEED}, got {seed}")
        if self.strip.image(seed) is not None:
            self.show_seed(seed)
            return
        if not self.samples.request(self.current_path, seed):
            self.statusBar().showMessage(f"Seed {seed} is already queued", 3000)
        self.update_actions()

    def _seed_entered(self, seed: int) -> None:
        self.decode_seed(seed)
        self.view.setFocus()  # hand the keys back to the picture

    def _decode_typed(self) -> None:
        seed = self.seed_box.value()
        if seed is None:
            self.statusBar().showMessage(f"Type a seed from 0 to {MAX_SEED}", 4000)
            return
        self.decode_seed(seed)

    def resample(self) -> None:
        """Decode again with a fresh random seed."""
        used = set(self.strip.seeds()) | set(self.samples.seeds())
        seed = random.randrange(MAX_SEED + 1)
        while seed in used:
            seed = random.randrange(MAX_SEED + 1)
        self.decode_seed(seed)

    def cancel_decode(self) -> None:
        """Cancel the running decode and every queued one."""
        self.samples.cancel_all()

    def decoding(self) -> bool:
        return self.samples.decoding()

    def queued(self) -> int:
        """Decodes requested and not started yet."""
        return self.samples.queued()

    def _on_sample(self, seed: int, image: QImage, seconds: float) -> None:
        self.decode_seconds[seed] = seconds
        self.strip.add_sample(seed, image)
        self.show_seed(seed)

    def _on_sample_failed(self, seed: int, kind: str, message: str) -> None:
        if kind == "cancelled":
            self.statusBar().showMessage(f"Decode of seed {seed} cancelled", 4000)
        elif kind == "missing-model":
            self._show_banner(f"Showing the preview: {message}")
            self.cancel_decode()  # the others would fail the same way
        else:
            self._show_banner(f"Decoding failed: {message}")
        self._refresh_view()

    def _on_task_finished(self, job: int, result: object, seconds: float) -> None:
        if job == self._task:
            self._task = None
            self.task_progress.hide()
            self.statusBar().showMessage(f"Saved {result}", 5000)
            self._show_new_file(Path(result))

    def _on_task_failed(self, job: int, kind: str, message: str) -> None:
        if job == self._task:
            self._task = None
            self.task_progress.hide()
            text = message if kind == "missing-model" else f"Encoding failed: {message}"
            self._show_banner(text)
            self.statusBar().showMessage(text)

    def show_seed(self, seed: int) -> None:
        """Show the already decoded sample of ``seed`` (from the strip)."""
        if self.strip.image(seed) is None:
            return
        self.shown_seed = seed
        self.seed_box.set_value(seed)
        self.metadata.set_decode_time(self.decode_seconds.get(seed))
        if self.view_mode != "sample":
            self.set_view_mode("sample")
        else:
            self._refresh_view()
        self.update_actions()

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
        self.a[f"mode:{mode}"].setChecked(True)
        self._refresh_view()

    def set_overlay(self, visible: bool) -> None:
        self.a["overlay"].setChecked(visible)
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
        self._update_status()

    # --- keep seed, export, encode --------------------------------------------------------------------

    def keep_seed(self) -> None:
        """Store the shown seed in the file, preserving every other chunk byte for byte."""
        if not self._has_sample() or self.current_path is None:
            self.statusBar().showMessage("Decode a sample first, then keep its seed", 4000)
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
        self.update_actions()
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
        self._show_new_file(Path(target))
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
        self.task_progress.setRange(0, 0)
        self.task_progress.setFormat(f"encoding {source.name}…")
        self.task_progress.show()
        return self._task

    def _show_new_file(self, path: Path) -> None:
        """A file the viewer wrote into the folder on screen joins the grid at once."""
        if self.watcher.folder is not None and path.parent.resolve() == \
                self.watcher.folder.resolve():
            self.model.add_paths([self.watcher.folder / path.name])

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
        if not self.needs_model():
            return
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
        self.compare.fit_when_laid_out()

    def original_photo(self) -> Path | None:
        """An ordinary image with the same name as the current ``.sgc`` (opened alongside)."""
        if self.current_path is None or not imaging.is_sgc(self.current_path):
            return None
        candidates = [p for p in self.model.all_paths() if p.stem == self.current_path.stem
                      and not imaging.is_sgc(p)]
        return candidates[0] if candidates else None

    # --- navigation ----------------------------------------------------------------------------------

    def step(self, delta: int) -> None:
        paths = self.model.paths()
        if not paths:
            return
        if self.in_browser() and not self.slideshow.isActive():
            row = max(self.grid.currentIndex().row(), 0)
            self.grid.setCurrentIndex(self.model.index((row + delta) % len(paths)))
            return
        row = self.model.row_of(self.current_path) if self.current_path else None
        self.open_file(paths[((row if row is not None else -delta) + delta) % len(paths)])

    def step_to(self, row: int) -> None:
        paths = self.model.paths()
        if not paths:
            return
        if self.in_browser():
            self.grid.setCurrentIndex(self.model.index(row % len(paths)))
        else:
            self.open_file(paths[row])

    def in_browser(self) -> bool:
        return self.stack.currentIndex() == BROWSER

    def show_browser(self) -> None:
        self.cancel_decode()
        self.stack.setCurrentIndex(BROWSER)
        self.dock.hide()
        self.setWindowTitle(f"SGC Viewer — {self._collection_title}" if self._collection_title
                            else "SGC Viewer")
        self.grid.setFocus()
        self.grid.report_visible()
        self._update_status()

    def escape(self) -> None:
        """Esc: stop the slideshow or the decodes, else leave full screen / compare / the view."""
        if self.slideshow.isActive():
            self.toggle_slideshow()
        elif self.decoding():
            self.cancel_decode()
        elif self.isFullScreen():
            self.toggle_fullscreen()
        elif self.stack.currentIndex() == COMPARE:
            self.stack.setCurrentIndex(VIEWER)
        elif self.stack.currentIndex() == VIEWER:
            self.show_browser()

    def toggle_fullscreen(self) -> None:
        """Full screen without chrome: the picture (or grid) only; Esc or F11 bring it back."""
        if self.isFullScreen():
            self.showNormal()
            for widget in self._fullscreen_hidden:
                widget.show()
            self._fullscreen_hidden = []
        else:
            chrome = [self.menuBar(), self.statusBar(), self.dock, self.controls, self.strip,
                      self.banner, self.browser.bar]
            self._fullscreen_hidden = [w for w in chrome if w.isVisible()]
            for widget in self._fullscreen_hidden:
                widget.hide()
            self.showFullScreen()
        self.a["fullscreen"].setChecked(self.isFullScreen())

    def toggle_slideshow(self) -> None:
        """Step through the files at a steady pace, from the one on screen or selected."""
        if self.slideshow.isActive():
            self.slideshow.stop()
            self.statusBar().showMessage("Slideshow stopped", 3000)
        elif self.model.rowCount():
            if self.in_browser():
                row = max(self.grid.currentIndex().row(), 0)
                self.open_file(self.model.path(row))
            self.slideshow.start()
            self.statusBar().showMessage(
                f"Slideshow: every {self.slideshow.interval() / 1000:g} s (Esc stops)", 3000)
        self.a["slideshow"].setChecked(self.slideshow.isActive())

    def zoom(self, factor: float) -> None:
        self._current_view().zoom_by(factor)

    def fit(self) -> None:
        self._current_view().fit()

    def actual_size(self) -> None:
        self._current_view().actual_size()

    def _current_view(self) -> ImageView | CompareView:
        return self.compare if self.stack.currentIndex() == COMPARE else self.view

    def _update_status(self) -> None:
        """The permanent fields: n / N, zoom, picture size, file bytes."""
        total = self.model.rowCount()
        in_browser = self.in_browser()
        row = self.grid.currentIndex().row() if in_browser else (
            self.model.row_of(self.current_path) if self.current_path else None)
        self.status["position"].setText(
            f"{row + 1} / {total}" if row is not None and row >= 0 else f"– / {total}")
        view = self.view if self.stack.currentIndex() == VIEWER else None
        zoom = view.zoom() if view is not None and view.has_image() else None
        self.status["zoom"].setText("" if zoom is None else f"{zoom * 100:.0f} %")
        info = self.info if not in_browser else None
        self.status["size"].setText("" if info is None else f"{info.width} × {info.height}")
        self.status["bytes"].setText("" if info is None else f"{info.file_bytes:,} bytes")

    # --- files changed on disk -------------------------------------------------------------------

    def forget_files(self, paths: list[Path]) -> None:
        """Files that are gone (trash, deleted elsewhere): out of the grid."""
        self.model.remove_paths(paths)
        if self.current_path in paths and self.in_browser():
            self.current_path = self.info = None

    def _on_files_removed(self, paths: list[Path]) -> None:
        self.forget_files(paths)
        self._update_status()

    def _on_files_changed(self, paths: list[Path]) -> None:
        for path in paths:
            self.model.refresh(path)

    # --- files, recent, drag and drop ---------------------------------------------------------------

    def choose_file(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(imaging.IMAGE_SUFFIXES))
        start = str(self.settings.last_folder() or "")
        path, _ = QFileDialog.getOpenFileName(self, "Open image", start, f"Images ({patterns})")
        if path:
            self.open_paths([path])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder",
                                                  str(self.settings.last_folder() or ""))
        if folder:
            self.open_folder(folder)

    def focus_filter(self) -> None:
        self.show_browser()
        self.browser.filter_box.setFocus()
        self.browser.filter_box.selectAll()

    def recent(self) -> list[str]:
        return self.settings.recent()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for entry in self.recent():
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(functools.partial(self.open_paths, [entry]))
        self.recent_menu.setEnabled(bool(self.recent()))

    def _save_sort(self) -> None:
        self.settings.set_sort(*self.model.sort_key())

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # --- misc ---------------------------------------------------------------------------------------

    def show_shortcuts(self) -> ShortcutSheet:
        sheet = ShortcutSheet(self.menuBar(), self)
        sheet.show()
        return sheet

    def _show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.show()

    def _on_model_missing(self, profile: str, message: str) -> None:
        self.statusBar().showMessage(f"Generative thumbnails off for {profile}: {message}")

    def update_actions(self) -> None:
        model = self.needs_model()
        has_sample = self._has_sample()
        for w in (self.resample_button, self.a["resample"], self.seed_box, self.decode_button):
            w.setEnabled(model)
        for w in (self.keep_button, self.a["keep"]):
            w.setEnabled(has_sample and self.info.stored_seed != self.shown_seed)
        for w in (self.a["compare"], self.compare_button):
            w.setEnabled(model)  # samples to compare need a generative profile
        self.a["export"].setEnabled(self.info is not None)
        self.a["undo"].setEnabled(self.files.can_undo())
        self._update_status()

    def shutdown(self) -> None:
        """Stop all background work, in order: queued work first, then the threads.

        Called on close and on application quit (whichever comes first); safe twice.
        """
        if self._shut_down:
            return
        self._shut_down = True
        self.slideshow.stop()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.watcher.watch(None)
        self.pool.clear()
        self.worker.stop()
        self.model.shutdown()
        self.pool.waitForDone()

    def closeEvent(self, event) -> None:
        if self.isFullScreen():
            self.toggle_fullscreen()  # save the normal geometry, chrome shown
        self.hide()  # the window goes at once; the threads finish behind it
        self.shutdown()
        super().closeEvent(event)
