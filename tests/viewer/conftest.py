"""Viewer test fixtures: offscreen Qt, tiny random-weight models, a folder of real .sgc files."""

from __future__ import annotations

import os

# Qt picks its platform when it first loads: offscreen, before anything imports PyQt6.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest

import sgcformat

pytest.importorskip("PyQt6.QtWidgets")

#: Few sampling steps keep a tiny-model decode well under a second.
STEPS = 2
THUMB = 64


@pytest.fixture
def write_scene(make_scene):
    """``write_scene(path, seed=0, profile=..., **encode_options)``: the real encoder, given labels."""

    def write(path: Path, seed: int = 0, profile: str = "ldm-semantic-512", **options) -> Path:
        image, labels = make_scene(96, 64, seed=seed)
        sgc = sgcformat.encode(image, labels=labels, vocab="coco-stuff-182", profile=profile,
                               **options)
        sgcformat.write(path, sgc)
        return path

    return write


@pytest.fixture
def sgc_folder(tmp_path: Path, write_scene, make_scene) -> Path:
    """Three generative .sgc files, one preview-profile file and an ordinary PNG."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        write_scene(folder / f"scene{i}.sgc", seed=i)
    write_scene(folder / "flat.sgc", seed=5, profile="preview")
    make_scene(96, 64, seed=0)[0].save(folder / "scene0.png")
    return folder


@pytest.fixture
def make_window(qtbot, tmp_path, tiny_models):
    """Factory for main windows with scratch settings, tiny models and few decode steps."""
    from PyQt6.QtCore import QSettings

    from sgcformat.viewer.window import MainWindow

    windows = []

    def make(**options):
        options.setdefault("thumbnail_size", THUMB)
        options.setdefault("decode_steps", STEPS)
        settings = QSettings(str(tmp_path / "viewer.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, **options)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()  # stops the decode thread before the models go away
