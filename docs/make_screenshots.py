"""Render the viewer's main views to ``docs/screenshots/*.png`` in a real X server (Xvfb).

    python docs/make_screenshots.py

Without a ``$DISPLAY`` the script starts itself again under ``xvfb-run`` (Debian
package ``xvfb``), so the pictures are what an X server shows — fonts, window size
from the screen, device-pixel ratios — and not only what offscreen Qt renders. The
high-DPI picture comes from a second run with ``QT_SCALE_FACTOR=1.5``.

The folder shown holds corpus photos encoded with their ground-truth labels, one
original photo beside its ``.sgc`` (for the compare view) and one corrupt file.
Thumbnails and the large view show the weight-free *preview*; the samples in the
seed strip come from the tiny random-weight models of :mod:`sgcformat.testing`
(no real weights on the machine that renders these), so they look like noise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

import sgcformat

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("SGC_CORPUS", ROOT.parent / "shared" / "corpus"))
OUT = ROOT / "docs" / "screenshots"
SCREEN = (1600, 1000)
WINDOW = (1400, 860)
HIDPI_SCALE = "1.5"


def make_folder(folder: Path, count: int = 14) -> Path:
    """Encode ``count`` labelled corpus photos; returns the one shown in the large view."""
    entries = [e for e in json.loads((CORPUS / "manifest.json").read_text())
               if e.get("label") and e["vocab"] == "coco-stuff-182"][:count]
    for e in entries:
        with Image.open(CORPUS / e["label"]) as labels:
            sgc = sgcformat.encode(CORPUS / e["image"], labels=labels.copy(), vocab=e["vocab"],
                                   target_bytes=700)
        sgcformat.write(folder / (Path(e["image"]).stem + ".sgc"), sgc)
    shown = folder / (Path(entries[1]["image"]).stem + ".sgc")
    shutil.copy(CORPUS / entries[1]["image"], shown.with_suffix(".jpg"))
    (folder / "damaged.sgc").write_bytes(shown.read_bytes()[:-5])
    return shown


def wait(app, condition, timeout: float = 300) -> None:
    start = time.perf_counter()
    while not condition():
        app.processEvents()
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the viewer did not get there in time")
        time.sleep(0.005)
    settle(app)


def settle(app, seconds: float = 0.3) -> None:
    """Let the X server receive and paint what Qt sent (a picture script, not a test)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def shoot(app, window, name: str) -> None:
    """The window's area as the X server has it (dialogs on top included)."""
    settle(app)
    screen = window.screen()
    frame = window.frameGeometry()
    pixmap = screen.grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
    pixmap.save(str(OUT / name))


def render(hidpi: bool) -> None:
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from sgcformat.testing import build_tiny_models, use_tiny_models
    from sgcformat.viewer.thumbnails import ThumbState
    from sgcformat.viewer.window import MainWindow

    app = QApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "holiday"
        folder.mkdir()
        shown = make_folder(folder)
        build_tiny_models(tmp / "models")
        with use_tiny_models(tmp / "models"):
            settings = QSettings(str(tmp / "viewer.ini"), QSettings.Format.IniFormat)
            window = MainWindow(settings=settings, thumbnail_size=150,
                                generative_thumbnails=False, decode_steps=4)
            if not hidpi:
                window.resize(*WINDOW)  # the hi-DPI run keeps the size chosen from the screen
            window.move(0, 0)
            window.show()
            window.open_folder(folder)
            model = window.model
            wait(app, lambda: all(model.state(r) != ThumbState.PENDING
                                  for r in range(model.rowCount())))
            window.grid.setCurrentIndex(model.index(model.row_of(shown)))
            if hidpi:  # thumbnails at device pixels, window sized from the screen
                shoot(app, window, "hidpi-1.5x.png")
                window.open_file(shown)
                wait(app, lambda: window.strip.seeds() and not window.decoding())
                window.set_view_mode("preview")
                wait(app, lambda: window.preview_image is not None)
                shoot(app, window, "hidpi-1.5x-large-view.png")
                window.close()
                return
            shoot(app, window, "browser.png")

            window.open_file(shown)
            wait(app, lambda: window.strip.seeds() and not window.decoding())
            for seed in (42, 3_000_000_000):
                window.decode_seed(seed)
                wait(app, lambda s=seed: s in window.strip.seeds() and not window.decoding())
            window.set_view_mode("preview")
            window.set_overlay(True)
            wait(app, lambda: window.preview_image is not None)
            shoot(app, window, "large-view-labels.png")

            window.set_overlay(False)
            window.set_view_mode("colors")
            shoot(app, window, "colour-map.png")

            window.strip.selectAll()
            window.compare_selected()
            settle(app)
            window.compare.views[0].zoom_by(2.0)
            shoot(app, window, "compare.png")

            window.set_view_mode("preview")
            window.escape()
            sheet = window.show_shortcuts()
            sheet.move(window.frameGeometry().center() - sheet.rect().center())
            shoot(app, window, "shortcuts.png")
            sheet.close()
            window.close()


def main() -> None:
    inside = "--inside" in sys.argv
    if not inside and not os.environ.get("DISPLAY"):
        if shutil.which("xvfb-run") is None:
            sys.exit("make_screenshots: no $DISPLAY and no xvfb-run (apt-get install xvfb)")
        server = f"-screen 0 {SCREEN[0]}x{SCREEN[1]}x24 -dpi 96"
        for extra_env in ({}, {"QT_SCALE_FACTOR": HIDPI_SCALE}):
            flags = ["--inside"] + (["--hidpi"] if extra_env else [])
            subprocess.run(["xvfb-run", "-a", "-s", server, sys.executable, __file__, *flags],
                           env={**os.environ, "QT_QPA_PLATFORM": "xcb", **extra_env}, check=True)
        for path in sorted(OUT.glob("*.png")):
            print(path.relative_to(ROOT))
        return
    render(hidpi="--hidpi" in sys.argv)


if __name__ == "__main__":
    main()
