"""Regression tests for the bugs of issue 11 (each failed before its fix)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

import sgcformat
from sgcformat.viewer import imaging
from sgcformat.viewer.thumbnails import ThumbState

STEPS, THUMB = 2, 64  # as in conftest.py

WAIT = 120_000


def _wait_sample(qtbot, window, count: int) -> None:
    qtbot.waitUntil(lambda: len(window.strip.seeds()) >= count and not window.decoding(),
                    timeout=WAIT)


def _wait_thumbnails(qtbot, window) -> None:
    qtbot.waitUntil(lambda: all(window.model.state(r) != ThumbState.PENDING
                                for r in range(window.model.rowCount())), timeout=WAIT)


def _activate(qtbot, window) -> None:
    """Window shortcuts need an active window (offscreen Qt activates on request)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)


def test_bug1_seeds_from_2_31_to_2_32_minus_1(qtbot, make_window, sgc_folder):
    path = sgc_folder / "scene1.sgc"
    window = make_window(generative_thumbnails=False)
    window.open_paths([path])
    _wait_sample(qtbot, window, 1)
    big = 2**32 - 7  # above a signed 32-bit int
    window.seed_box.clear()
    qtbot.keyClicks(window.seed_box, str(big))
    qtbot.keyClick(window.seed_box, Qt.Key.Key_Return)
    _wait_sample(qtbot, window, 2)
    assert window.strip.seeds() == [0, big]
    assert window.shown_seed == big and window.seed_box.text() == str(big)
    assert window.metadata.field("Shown") == f"sample, seed {big}"
    # The sample is that seed's: the same picture a direct decode gives.
    assert window.strip.image(big) == imaging.decode_sample(path, big, steps=STEPS)
    # Clicking it in the strip shows it; Decode with the box's value decodes nothing new.
    window.strip.itemClicked.emit(window.strip.item(0))
    assert window.shown_seed == 0
    window.strip.itemClicked.emit(window.strip.item(1))
    assert window.shown_seed == big
    window.decode_button.click()
    assert not window.decoding() and window.strip.seeds() == [0, big]
    # Out of range is refused where it is typed.
    window.seed_box.clear()
    qtbot.keyClicks(window.seed_box, str(2**32))
    assert window.seed_box.value() is None


def test_bug2_grid_cells_hold_picture_and_name_after_relayout(qtbot, make_window, tmp_path,
                                                            write_scene):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.new("RGB", (96, 48), "teal").save(folder / "a-wide.png")  # the first row: landscape
    Image.new("RGB", (40, 90), "olive").save(folder / "b-tall.png")
    Image.new("RGB", (50, 50), "navy").save(folder / "c-square.png")
    (folder / "d-empty.sgc").write_bytes(b"")
    write_scene(folder / "e-scene.sgc")
    window = make_window(generative_thumbnails=False)
    window.open_folder(folder)
    _wait_thumbnails(qtbot, window)
    for width, height in ((700, 500), (430, 620)):
        window.resize(width, height)
        qtbot.wait(50)  # let the layout settle: what is checked is the geometry, not time
        grid = window.grid
        line = grid.fontMetrics().height()
        rects = [grid.visualRect(window.model.index(r)) for r in range(window.model.rowCount())]
        assert len({(r.width(), r.height()) for r in rects}) == 1  # one cell size for all
        for rect in rects:
            assert rect.height() >= THUMB + line and rect.width() >= THUMB
        delegate = grid.itemDelegate()
        for rect in rects:  # picture above the name, both inside the cell
            picture, text = delegate.picture_rect(rect), delegate.text_rect(rect, grid.fontMetrics())
            assert rect.contains(picture) and rect.contains(text)
            assert picture.bottom() < text.top() and text.height() >= line


@pytest.fixture
def umask_022():
    saved = os.umask(0o022)
    yield
    os.umask(saved)


def test_bug3_keep_seed_and_export_keep_file_modes(qtbot, make_window, sgc_folder, tmp_path,
                                                   umask_022):
    path = sgc_folder / "scene2.sgc"
    path.chmod(0o640)
    window = make_window(generative_thumbnails=False)
    window.open_paths([path])
    _wait_sample(qtbot, window, 1)
    window.decode_seed(99)
    _wait_sample(qtbot, window, 2)
    window.keep_seed()
    assert sgcformat.read(path).seed == 99
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a rewrite keeps the mode
    target = tmp_path / "exported.png"
    window.export_png(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # a new file follows the umask


def test_bug4_keys_work_after_typing_a_seed(qtbot, make_window, sgc_folder):
    path = sgc_folder / "scene0.sgc"
    window = make_window(generative_thumbnails=False)
    window.open_paths([path])
    _activate(qtbot, window)
    _wait_sample(qtbot, window, 1)
    window.seed_box.setFocus()
    window.seed_box.clear()
    qtbot.keyClicks(window.seed_box, "77")
    qtbot.keyClick(window.seed_box, Qt.Key.Key_Return)
    _wait_sample(qtbot, window, 2)
    assert window.shown_seed == 77
    qtbot.keyClick(window.seed_box, Qt.Key.Key_K)  # even with the focus still in the box
    assert sgcformat.read(path).seed == 77
    assert window.seed_box.text() == "77"  # the letter did not go into the box


def test_bug5_resample_during_a_decode_queues(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene1.sgc"])
    _wait_sample(qtbot, window, 1)
    for _ in range(3):
        window.resample()
    assert window.decoding() and window.queue_label.isVisible()
    assert window.queue_label.text() == f"{window.queued()} queued" and window.queued() >= 2
    _wait_sample(qtbot, window, 4)
    assert len(set(window.strip.seeds())) == 4  # every press gave a sample
    assert not window.queue_label.isVisible()


def test_bug6_compare_fits_on_open(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene0.sgc"])
    _wait_sample(qtbot, window, 1)
    window.decode_seed(5)
    _wait_sample(qtbot, window, 2)
    window.strip.selectAll()
    window.compare_selected()

    def fitted(view) -> bool:
        viewport = view.viewport().rect()
        shown = view.mapFromScene(view.sceneRect()).boundingRect()
        return (view.is_fit() and view.zoom() == pytest.approx(view.fit_zoom(), rel=1e-3)
                and abs(shown.center().x() - viewport.center().x()) <= 2
                and abs(shown.center().y() - viewport.center().y()) <= 2
                and (shown.width() >= viewport.width() - 2
                     or shown.height() >= viewport.height() - 2))

    qtbot.waitUntil(lambda: all(fitted(v) for v in window.compare.views), timeout=5000)
    assert len(window.compare.views) == 3  # the original photo and two samples


def test_bug7_window_fits_the_screen_and_thumbnails_use_device_pixels(qtbot, make_window,
                                                                     sgc_folder):
    window = make_window(generative_thumbnails=False)
    screen = window.screen().availableGeometry()
    assert screen.contains(window.frameGeometry())
    assert window.model.device_pixel_ratio == window.devicePixelRatioF()
    window.model.set_thumbnail_size(40, device_pixel_ratio=2.0)  # as on a 200 % screen
    window.open_folder(sgc_folder)
    _wait_thumbnails(qtbot, window)
    for row in range(window.model.rowCount()):
        image = window.model.image(row)
        assert image.devicePixelRatio() == 2.0
        assert max(image.width(), image.height()) == 80  # 96×64 pictures in 40-px cells
    assert window.worker.thumbnail_size == 80


def test_bug8_recent_lists_opened_files_only(qtbot, make_window, sgc_folder):
    (sgc_folder / "broken.sgc").write_bytes(b"SGC")
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene1.sgc"])
    for _ in range(4):
        window.step(1)  # steps through broken.sgc too
    assert window.recent() == [str((sgc_folder / "scene1.sgc").resolve())]


def test_bug8_ordinary_images_no_compare_no_profile(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene0.png"])
    qtbot.waitUntil(lambda: window.preview_image is not None, timeout=WAIT)
    assert not window.compare_button.isEnabled() and not window.a["compare"].isEnabled()
    assert window.metadata.field("Profile") == "–"
    assert window.metadata.field("Format") == "PNG"


def test_bug8_empty_file_says_empty(qtbot, make_window, sgc_folder):
    (sgc_folder / "zero.sgc").write_bytes(b"")
    window = make_window(generative_thumbnails=False)
    window.open_folder(sgc_folder)
    _wait_thumbnails(qtbot, window)
    row = window.model.row_of(sgc_folder / "zero.sgc")
    tooltip = window.model.index(row).data(Qt.ItemDataRole.ToolTipRole)
    assert "empty file" in tooltip and "signature" not in tooltip
    window.open_file(sgc_folder / "zero.sgc")
    assert "empty file" in window.metadata.field("File")


def test_bug8_browser_title_names_the_folder(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene1.sgc"])
    assert "scene1.sgc" in window.windowTitle()
    window.show_browser()
    assert "scene1.sgc" not in window.windowTitle() and sgc_folder.name in window.windowTitle()


def test_bug8_full_screen_is_chrome_free(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene1.sgc"])
    window.toggle_fullscreen()
    chrome = (window.menuBar(), window.statusBar(), window.dock, window.resample_button,
              window.strip)
    assert window.isFullScreen() and not any(w.isVisible() for w in chrome)
    assert window.view.isVisible()
    window.toggle_fullscreen()
    assert all(w.isVisible() for w in chrome)


def test_bug8_legend_never_says_zero_percent(qtbot):
    from sgcformat.viewer.panels import FileInfo, MetadataPanel

    labels = np.full((40, 40), 123, dtype=np.uint8)  # grass
    labels[0, 0] = 0  # one cell of 1600: 0.06 %, which rounds to "0 %"
    panel = MetadataPanel()
    qtbot.addWidget(panel)
    panel.show_info(FileInfo(Path("x.sgc"),
                             640, 640, 700, "ldm-semantic-512", "coco-stuff-182", None, labels))
    texts = [panel.legend.item(i).text() for i in range(panel.legend.count())]
    assert len(texts) == 2
    assert texts[1].endswith("<1 %") and not any(t.endswith(" 0 %") or t.endswith(" 0%")
                                                 for t in texts)


def test_bug8_unticking_generative_thumbnails_brings_previews_back(qtbot, make_window,
                                                                   sgc_folder):
    window = make_window()
    window.open_folder(sgc_folder)
    rows = [window.model.row_of(sgc_folder / f"scene{i}.sgc") for i in range(3)]
    qtbot.waitUntil(lambda: all(window.model.state(r) == ThumbState.GENERATIVE for r in rows),
                    timeout=WAIT)
    window.model.set_generative(False)
    for row in rows:
        assert window.model.state(row) == ThumbState.PREVIEW
        expected = imaging.load_thumbnail(window.model.path(row), THUMB)
        assert window.model.image(row) == expected


def test_bug8_exported_png_joins_the_grid(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene0.sgc"])
    _wait_sample(qtbot, window, 1)
    target = sgc_folder / "scene0-seed0.png"
    window.export_png(target)
    assert window.model.row_of(target) is not None


def test_bug8_close_is_orderly_even_right_after_opening(qtbot, make_window, sgc_folder):
    window = make_window()
    window.open_folder(sgc_folder)  # previews queued, generative thumbnails about to start
    window.close()
    assert not window.isVisible()
    assert window.worker.isFinished() and window.pool.activeThreadCount() == 0
    window.close()  # twice is harmless
