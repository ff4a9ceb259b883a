"""The viewer end to end under offscreen Qt, with tiny random-weight models."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage

import sgcformat
from sgcformat.container import Chunk
from sgcformat.viewer import imaging
from sgcformat.viewer.thumbnails import ThumbState

WAIT = 120_000  # ms; tiny decodes take well under a second, but CI machines can be loaded


def _sgc_rows(window) -> list[int]:
    return [r for r in range(window.model.rowCount()) if imaging.is_sgc(window.model.path(r))]


def _wait_sample(qtbot, window, count: int) -> None:
    qtbot.waitUntil(lambda: len(window.strip.seeds()) >= count and not window.decoding(),
                    timeout=WAIT)


@pytest.mark.parametrize("chunk", [2, 150])  # previews handed to the pool over several passes, or one
def test_opening_a_folder_fills_the_grid(qtbot, make_window, sgc_folder, monkeypatch, chunk):
    from sgcformat.viewer import thumbnails

    monkeypatch.setattr(thumbnails, "PREVIEW_CHUNK", chunk)
    window = make_window(generative_thumbnails=False)
    window.open_folder(sgc_folder)
    names = [p.name for p in window.model.paths()]
    assert names == ["flat.sgc", "scene0.png", "scene0.sgc", "scene1.sgc", "scene2.sgc"]
    qtbot.waitUntil(lambda: all(window.model.state(r) == ThumbState.PREVIEW
                                for r in range(window.model.rowCount())), timeout=WAIT)
    for row in range(window.model.rowCount()):
        image = window.model.image(row)
        assert max(image.width(), image.height()) <= 64  # fits the thumbnail cell
        assert image.width() / image.height() == pytest.approx(96 / 64, rel=0.05)
    # The preview thumbnail is the weight-free preview the Pillow plugin draws.
    row = window.model.row_of(sgc_folder / "scene1.sgc")
    with Image.open(sgc_folder / "scene1.sgc") as im:
        im.draft("RGB", (64, 64))
        im.thumbnail((64, 64))
        assert window.model.image(row) == imaging.to_qimage(im)
    assert window.grid.visible_rows() == list(range(5))  # five cells fit on screen


def test_generative_thumbnails_replace_previews(qtbot, make_window, sgc_folder):
    window = make_window()
    previews: dict[int, QImage] = {}
    window.model.thumbnailChanged.connect(
        lambda row, state: previews.setdefault(row, window.model.image(row))
        if state == ThumbState.PREVIEW else None)
    window.open_folder(sgc_folder)
    generative = [r for r in _sgc_rows(window) if window.model.path(r).name != "flat.sgc"]
    qtbot.waitUntil(lambda: all(window.model.state(r) == ThumbState.GENERATIVE
                                for r in generative), timeout=WAIT)
    for row in generative:
        assert previews[row] != window.model.image(row)
    # Files without a generative profile keep their preview; ordinary images stay as they are.
    for name in ("flat.sgc", "scene0.png"):
        assert window.model.state(window.model.row_of(sgc_folder / name)) == ThumbState.PREVIEW
    assert window.worker.pending_thumbnails() == 0


def test_resample_changes_the_image_and_adds_to_the_strip(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene1.sgc"])
    _wait_sample(qtbot, window, 1)
    assert window.strip.seeds() == [0]  # no stored seed: the spec's default
    first = window.shown_image()
    assert (first.width(), first.height()) == (96, 64)  # the file's declared size

    window.resample()
    _wait_sample(qtbot, window, 2)
    seed = window.strip.seeds()[1]
    assert window.shown_seed == seed != 0
    assert window.shown_image() != first
    assert window.metadata.field("Shown") == f"sample, seed {seed}"

    window.seed_box.set_value(1234)
    window.decode_button.click()
    _wait_sample(qtbot, window, 3)
    assert window.strip.seeds() == [0, seed, 1234]
    # Clicking a sample in the strip shows it again without decoding.
    window.strip.seedActivated.emit(0)
    assert window.shown_image() == first and not window.decoding()


def test_keep_seed_rewrites_the_file_preserving_other_chunks(qtbot, make_window, sgc_folder):
    path = sgc_folder / "scene2.sgc"
    original = sgcformat.read(path)
    extra = (Chunk(0x10, b"II*\x00exif-bytes"), Chunk(0x42, b"\x00\x01unknown ancillary"))
    sgcformat.write(path, original.with_chunk(0x10, extra[0].data).with_chunk(0x42, extra[1].data))
    window = make_window(generative_thumbnails=False)
    window.open_paths([path])
    _wait_sample(qtbot, window, 1)
    window.resample()
    _wait_sample(qtbot, window, 2)
    chosen = window.shown_seed
    assert window.keep_button.isEnabled()

    window.keep_button.click()
    kept = sgcformat.read(path)
    assert kept.seed == chosen
    assert [c for c in kept.chunks if c.type != 0x01] == list(extra)
    assert (kept.label_data, kept.color_data) == (original.label_data, original.color_data)
    assert kept.with_seed(None) == original.with_chunk(0x10, extra[0].data).with_chunk(
        0x42, extra[1].data)
    assert window.metadata.field("Stored seed") == str(chosen)
    assert not window.keep_button.isEnabled()  # already stored
    # Every later decode shows that picture: Pillow now starts from the kept seed.
    with Image.open(path) as im:
        assert im.info["seed"] == chosen
    window.open_file(path)
    _wait_sample(qtbot, window, 1)
    assert window.strip.seeds() == [chosen]


def test_cancel_stops_a_decode(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False, decode_steps=30)
    cancelled = []
    # Cancel from inside the first progress callback, while the decode is certainly running.
    window.worker.progress.connect(lambda job, step, total: window.cancel_decode(),
                                   Qt.ConnectionType.DirectConnection)
    window.worker.failed.connect(lambda job, kind, message: cancelled.append(kind))
    finished = []
    window.worker.finished.connect(lambda *args: finished.append(args))
    window.open_paths([sgc_folder / "scene0.sgc"])
    assert window.decoding() and window.samples.progress.isVisible()
    qtbot.waitUntil(lambda: bool(cancelled or finished), timeout=WAIT)
    assert cancelled == ["cancelled"] and finished == []
    assert not window.decoding()
    assert window.strip.seeds() == []
    assert not window.samples.progress.isVisible()
    assert window.shown_image() == window.preview_image  # the preview stays on screen


def test_corrupt_file_shows_an_error_tile(qtbot, make_window, sgc_folder):
    good = (sgc_folder / "scene1.sgc").read_bytes()
    (sgc_folder / "broken.sgc").write_bytes(good[:-3] + bytes([good[-3] ^ 0xFF]) + good[-2:])
    (sgc_folder / "empty.png").write_bytes(b"")
    window = make_window(generative_thumbnails=False)
    window.open_folder(sgc_folder)
    qtbot.waitUntil(lambda: all(window.model.state(r) != ThumbState.PENDING
                                for r in range(window.model.rowCount())), timeout=WAIT)
    for name, words in (("broken.sgc", "Not a valid SGC file"), ("empty.png", "Cannot open")):
        row = window.model.row_of(sgc_folder / name)
        assert window.model.state(row) == ThumbState.ERROR
        assert words in window.model.index(row).data(Qt.ItemDataRole.ToolTipRole)
        assert window.model.image(row) == imaging.error_tile(64, window.model._entries[row].message)
    # Opening it shows the reason in place of the picture; the app carries on.
    window.open_file(sgc_folder / "broken.sgc")
    assert not window.view.has_image()
    assert "CRC" in window.metadata.field("File")
    window.open_file(sgc_folder / "scene1.sgc")
    _wait_sample(qtbot, window, 1)
    assert window.view.has_image()


def test_export_writes_png_with_text_chunks(qtbot, make_window, sgc_folder, tmp_path):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene0.sgc"])
    _wait_sample(qtbot, window, 1)
    window.decode_seed(77)
    _wait_sample(qtbot, window, 2)
    target = tmp_path / "out.png"
    window.export_png(target)
    with Image.open(target) as png:
        assert png.text["sgc:seed"] == "77"
        assert png.text["sgc:profile"] == "ldm-semantic-512"
        assert Path(png.text["sgc:source"]) == (sgc_folder / "scene0.sgc").resolve()
        assert imaging.to_qimage(png) == window.strip.image(77)


def test_missing_model_says_which_and_how_to_get_it(qtbot, make_window, sgc_folder, tmp_path,
                                                      monkeypatch):
    from sgcformat.testing import use_tiny_models

    window = make_window(generative_thumbnails=False)
    with use_tiny_models(tmp_path / "no-models"):
        window.open_paths([sgc_folder / "scene0.sgc"])
        # Wait for the outcome, not for "not decoding": the decode may not have started yet.
        qtbot.waitUntil(window.banner.isVisible, timeout=WAIT)
        qtbot.waitUntil(lambda: not window.decoding(), timeout=WAIT)
    text = window.banner.text()
    assert "ldm-semantic-512" in text and "sgc models" in text
    assert window.strip.seeds() == []
    # The weight-free preview is shown instead (it loads in the pool: it may come last).
    qtbot.waitUntil(window.view.has_image, timeout=WAIT)


def test_overlays_legend_and_metadata(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    path = sgc_folder / "scene0.sgc"
    window.open_paths([path])
    sgc = sgcformat.read(path)
    names = imaging.display_names("coco-stuff-182")
    assert sorted(window.metadata.legend_names()) == sorted(names[i] for i in set(
        sgc.label_map.ravel().tolist()))
    assert window.metadata.field("File bytes") == f"{path.stat().st_size:,}"
    assert window.metadata.field("bpp") == f"{8 * path.stat().st_size / (96 * 64):.4f}"
    assert window.metadata.field("Profile") == "ldm-semantic-512"
    window.set_overlay(True)
    assert window.view.overlay_visible()
    window.set_view_mode("colors")
    assert window.shown_image() == imaging.array_to_qimage(sgc.color_map)
    window.set_view_mode("preview")
    qtbot.waitUntil(lambda: window.preview_image is not None, timeout=WAIT)
    assert window.shown_image().size().width() == 96
    _wait_sample(qtbot, window, 1)
    assert window.metadata.field("Decode time").endswith(" s")


def test_compare_views_zoom_and_pan_together(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene0.sgc", sgc_folder / "scene0.png"])
    _wait_sample(qtbot, window, 1)
    window.decode_seed(5)
    _wait_sample(qtbot, window, 2)
    window.strip.selectAll()
    window.compare_selected()
    views = window.compare.views
    assert len(views) == 3  # original photo + two samples
    views[1].zoom_by(4.0)
    views[1].centerOn(80, 50)
    qtbot.waitUntil(lambda: all(v.view_state() == pytest.approx(views[1].view_state(), abs=0.05)
                                for v in views), timeout=5000)
    window.escape()
    assert window.stack.currentIndex() == 1


def test_navigation_and_recent_files(qtbot, make_window, sgc_folder):
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "scene1.sgc"])
    window.step(1)
    assert window.current_path.name == "scene2.sgc"
    window.step(1)
    assert window.current_path.name == "flat.sgc"  # wraps around
    window.step_to(-1)
    assert window.current_path.name == "scene2.sgc"
    # Recent holds what the user opened, not every file stepped through (issue 11, bug 8).
    assert window.recent() == [str((sgc_folder / "scene1.sgc").resolve())]
    window.escape()  # Esc first cancels the running decode...
    qtbot.waitUntil(lambda: not window.decoding(), timeout=WAIT)
    window.escape()  # ...then goes back to the browser
    assert window.stack.currentIndex() == 0


def test_save_as_sgc_encodes_on_the_model_thread(qtbot, make_window, sgc_folder, make_scene,
                                                 tmp_path):
    window = make_window(generative_thumbnails=False)
    image, labels = make_scene(96, 64, seed=3)
    image.save(tmp_path / "photo.png")
    labels.save(tmp_path / "labels.png")
    with qtbot.waitSignal(window.worker.finished, timeout=WAIT):
        window.encode_to(tmp_path / "photo.png", tmp_path / "photo.sgc", "ldm-semantic-512",
                         target_bytes=400, labels=tmp_path / "labels.png")
    sgc = sgcformat.read(tmp_path / "photo.sgc")
    assert sgc.size == (96, 64) and sgc.profile == "ldm-semantic-512"
    assert (tmp_path / "photo.sgc").stat().st_size <= 400
    # Without labels the segmenter must run; without its weights the banner says what to fetch.
    from sgcformat.testing import use_tiny_models

    with use_tiny_models(tmp_path / "no-models"), \
            qtbot.waitSignal(window.worker.failed, timeout=WAIT):
        window.encode_to(tmp_path / "photo.png", tmp_path / "other.sgc", "ldm-semantic-512")
    assert "sgc models" in window.banner.text()
    assert not (tmp_path / "other.sgc").exists()


def test_dropping_a_folder_opens_it(qtbot, make_window, sgc_folder):
    from PyQt6.QtCore import QMimeData, QPointF, QUrl
    from PyQt6.QtGui import QDropEvent

    window = make_window(generative_thumbnails=False)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(sgc_folder))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert event.isAccepted()
    assert window.model.rowCount() == 5 and window.stack.currentIndex() == 0
    assert window.recent()[0] == str(sgc_folder.resolve())


def test_decode_with_another_profile(qtbot, make_window, sgc_folder):
    """Sample > Decode with: a preview-profile file decodes generatively, bridged when needed."""
    window = make_window(generative_thumbnails=False)
    window.open_paths([sgc_folder / "flat.sgc"])
    assert not window.needs_model() and window.strip.seeds() == []
    window.a["profile:sd15-controlnet-seg"].trigger()  # COCO-Stuff labels, ADE20K profile
    assert window.worker.profile == "sd15-controlnet-seg" and window.needs_model()
    _wait_sample(qtbot, window, 1)
    assert (window.shown_image().width(), window.shown_image().height()) == (96, 64)
    window.a["profile:None"].trigger()
    assert window.worker.profile is None and not window.needs_model()
