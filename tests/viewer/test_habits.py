"""What users of other viewers expect: shortcut sheet, sorting and filtering, context menus,
trash with undo, rename, clipboard, slideshow, status bar, remembered settings,
thumbnail size, folder watching."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

import sgcformat
from sgcformat.viewer import imaging
from sgcformat.viewer.thumbnails import ThumbState

WAIT = 120_000
THUMB = 64


def _wait_thumbnails(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.model.rowCount() and all(
        window.model.state(r) != ThumbState.PENDING for r in range(window.model.rowCount())),
        timeout=WAIT)


def _names(window) -> list[str]:
    return [p.name for p in window.model.paths()]


def test_shortcut_sheet_lists_every_menu_shortcut(qtbot, make_window):
    window = make_window(generative_thumbnails=False)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    for key in (Qt.Key.Key_F1, Qt.Key.Key_Question):
        qtbot.keyClick(window, key)
        sheet = QApplication.activeModalWidget() or next(
            w for w in QApplication.topLevelWidgets()
            if w.isVisible() and w.windowTitle() == "Keyboard shortcuts")
        rows = {(sheet.table.item(r, 1).text(), sheet.table.item(r, 2).text())
                for r in range(sheet.table.rowCount())}
        assert ("Keep this seed", "K") in rows and ("Rename…", "F2") in rows
        assert ("Keyboard shortcuts", "F1, ?") in rows
        sheet.close()
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert [a.text() for a in help_menu.actions()] == ["&Keyboard shortcuts", "&About SGC Viewer"]


def test_sorting_and_filtering(qtbot, make_window, sgc_folder, write_scene):
    write_scene(sgc_folder / "big.sgc", target_bytes=2000)
    now = time.time()
    for i, name in enumerate(sorted(p.name for p in sgc_folder.iterdir())):
        os.utime(sgc_folder / name, (now - 1000 * i, now - 1000 * i))  # later names are older
    window = make_window(generative_thumbnails=False)
    window.open_folder(sgc_folder)
    _wait_thumbnails(qtbot, window)
    by_name = _names(window)
    assert by_name == sorted(by_name, key=str.lower)
    window.browser.set_sort("date")
    assert _names(window) == list(reversed(by_name))
    window.browser.set_sort("size", descending=True)
    sizes = [p.stat().st_size for p in window.model.paths()]
    assert sizes == sorted(sizes, reverse=True)
    window.browser.set_sort("bpp")
    bpp = [p.stat().st_size * 8 / Image.open(p).size[0] / Image.open(p).size[1]
           for p in window.model.paths()]
    assert bpp == sorted(bpp)
    window.browser.set_sort("vocab")
    assert _names(window)[-1] == "scene0.png"  # no vocabulary: last
    window.browser.filter_box.setText("SCENE")
    assert sorted(_names(window)) == ["scene0.png", "scene0.sgc", "scene1.sgc", "scene2.sgc"]
    window.step_to(-1)
    assert window.grid.currentIndex().row() == 3  # navigation follows the filtered rows
    window.browser.filter_box.clear()
    assert window.model.rowCount() == 6


def test_context_menus_offer_the_file_commands(make_window):
    window = make_window(generative_thumbnails=False)
    grid = [a.text() for a in window.grid.actions() if not a.isSeparator()]
    view = [a.text() for a in window.view.actions() if not a.isSeparator()]
    assert window.grid.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
    assert {"&Copy image", "Re&name…", "Move to &trash"} <= set(grid)
    assert {"&Copy image", "&Export PNG…", "&Keep this seed", "&Resample"} <= set(view)


def test_move_to_trash_and_undo(qtbot, make_window, sgc_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # not there yet: made on use
    path = sgc_folder / "scene1.sgc"
    data = path.read_bytes()
    window = make_window(generative_thumbnails=False)
    window.open_paths([path])
    window.files.trash()
    assert not path.exists() and window.model.row_of(path) is None
    trash = tmp_path / "data" / "Trash"
    assert (trash / "files" / "scene1.sgc").read_bytes() == data
    assert (trash / "info" / "scene1.sgc.trashinfo").exists()
    assert window.current_path.name == "scene2.sgc"  # the next file is shown
    window.files.undo_trash()
    assert path.read_bytes() == data and window.model.row_of(path) is not None
    assert list((trash / "files").iterdir()) == [] and list((trash / "info").iterdir()) == []


def test_rename(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene1.sgc"])
    target = window.files.rename(sgc_folder / "scene1.sgc", "zebra.sgc")
    assert target == sgc_folder / "zebra.sgc" and target.exists()
    assert _names(window)[-1] == "zebra.sgc" and window.current_path == target
    assert "zebra.sgc" in window.windowTitle()
    with pytest.raises(FileExistsError):
        window.files.rename(target, "scene2.sgc")
    with pytest.raises(ValueError):
        window.files.rename(target, "../elsewhere.sgc")


def test_copy_puts_pixels_on_the_clipboard(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene0.sgc"])
    qtbot.waitUntil(lambda: bool(window.strip.seeds()) and not window.decoding(), timeout=WAIT)
    window.files.copy_image()
    clipboard = QApplication.clipboard()
    copied = clipboard.image().convertToFormat(window.shown_image().format())
    assert copied == window.shown_image()
    window.show_browser()
    window.grid.setCurrentIndex(window.model.index(window.model.row_of(sgc_folder / "scene0.png")))
    window.files.copy_image()
    with Image.open(sgc_folder / "scene0.png") as png:
        expected = imaging.to_qimage(png)
    assert clipboard.image().convertToFormat(expected.format()) == expected


def test_slideshow_steps_through_the_files(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_folder(sgc_folder)
    window.grid.setCurrentIndex(window.model.index(1))
    window.toggle_slideshow()
    assert window.slideshow.isActive() and window.current_path == window.model.path(1)
    window.slideshow.timeout.emit()  # what the timer does every few seconds
    assert window.current_path == window.model.path(2)
    window.escape()
    assert not window.slideshow.isActive()


def test_status_bar_shows_position_zoom_size_and_bytes(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    path = sgc_folder / "scene1.sgc"
    window.open_paths([path])
    qtbot.waitUntil(window.view.has_image, timeout=WAIT)
    status = {k: v.text() for k, v in window.status.items()}
    assert status["position"] == f"{window.model.row_of(path) + 1} / 5"
    assert status["size"] == "96 × 64"
    assert status["bytes"] == f"{path.stat().st_size:,} bytes"
    assert status["zoom"] == f"{window.view.zoom() * 100:.0f} %"
    window.actual_size()
    assert window.status["zoom"].text() == "100 %"
    assert all(w.isVisible() for w in window.status.values() if w.text())


def test_settings_remember_geometry_folder_size_and_sort(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_folder(sgc_folder)
    window.resize(640, 480)
    window.browser.set_thumbnail_size(96)
    window.browser.set_sort("size", descending=True)
    window.close()
    again = make_window(generative_thumbnails=False)
    assert (again.width(), again.height()) == (640, 480)
    assert again.settings.last_folder() == sgc_folder.resolve()
    assert again.model.thumbnail_size == 96 and again.browser.size_slider.value() == 96
    assert again.model.sort_key() == ("size", True)


def test_thumbnail_size_slider_and_ctrl_wheel(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_folder(sgc_folder)
    _wait_thumbnails(qtbot, window)
    window.grid.zoomRequested.emit(-1)  # what Ctrl+wheel down emits
    assert window.browser.size_slider.value() == THUMB - 16
    qtbot.waitUntil(lambda: window.model.thumbnail_size == 48, timeout=5000)
    qtbot.waitUntil(lambda: all(max(window.model.image(r).width(), window.model.image(r).height())
                                == 48 for r in range(window.model.rowCount())), timeout=WAIT)
    assert window.grid.gridSize().width() >= 48


def test_folder_watching_adds_updates_and_removes(qtbot, make_window, sgc_folder, write_scene):
    window = make_window(generative_thumbnails=False)
    window.open_folder(sgc_folder)
    _wait_thumbnails(qtbot, window)
    new = write_scene(sgc_folder / "new.sgc", seed=3)
    qtbot.waitUntil(lambda: window.model.row_of(new) is not None, timeout=10_000)
    _wait_thumbnails(qtbot, window)
    before = window.model.image(window.model.row_of(new))
    write_scene(new, seed=9)  # rewritten (atomically: a new inode)
    qtbot.waitUntil(lambda: window.model.image(window.model.row_of(new)) != before
                    and window.model.state(window.model.row_of(new)) == ThumbState.PREVIEW,
                    timeout=10_000)
    (sgc_folder / "scene2.sgc").unlink()
    qtbot.waitUntil(lambda: window.model.row_of(sgc_folder / "scene2.sgc") is None,
                    timeout=10_000)
    assert window.model.rowCount() == 5


def test_folder_of_a_thousand_files_keeps_the_event_loop_free(qtbot, make_window, tmp_path,
                                                              write_scene):
    """Opening, sorting and filtering 1,000 files each return quickly (the bench measures)."""
    folder = tmp_path / "many"
    folder.mkdir()
    data = write_scene(tmp_path / "one.sgc").read_bytes()
    for i in range(1000):
        (folder / f"f{i:04d}.sgc").write_bytes(data)
    window = make_window(generative_thumbnails=False)
    window.open_folder(folder)
    assert window.model.rowCount() == 1000
    window.browser.set_sort("bpp")
    window.browser.filter_box.setText("f09")
    assert window.model.rowCount() == 100
    assert Path(window.model.path(0)).name == "f0900.sgc"
    assert sgcformat.read(window.model.path(0)).width == 96
