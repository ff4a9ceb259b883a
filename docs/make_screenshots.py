"""Render the viewer's main views to ``docs/screenshots/*.png`` (offscreen Qt, real widgets).

    python docs/make_screenshots.py

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
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image

import sgcformat

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("SGC_CORPUS", ROOT.parent / "shared" / "corpus"))
OUT = ROOT / "docs" / "screenshots"
WINDOW = (1400, 860)


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
    for _ in range(5):
        app.processEvents()


def main() -> None:
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
            window.resize(*WINDOW)
            window.show()

            window.open_folder(folder)
            model = window.model
            wait(app, lambda: all(model.state(r) != ThumbState.PENDING
                                  for r in range(model.rowCount())))
            window.grid.setCurrentIndex(model.index(model.row_of(shown)))
            window.grab().save(str(OUT / "browser.png"))

            window.open_file(shown)
            wait(app, lambda: window.strip.seeds() and not window.decoding())
            for seed in (42, 1234):
                window.decode_seed(seed)
                wait(app, lambda s=seed: s in window.strip.seeds() and not window.decoding())
            window.set_view_mode("preview")
            window.set_overlay(True)
            wait(app, lambda: window.preview_image is not None)
            window.grab().save(str(OUT / "large-view-labels.png"))

            window.set_overlay(False)
            window.set_view_mode("colors")
            window.grab().save(str(OUT / "colour-map.png"))

            window.strip.selectAll()
            window.compare_selected()
            window.compare.views[0].zoom_by(2.0)
            app.processEvents()
            window.grab().save(str(OUT / "compare.png"))
            window.close()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
