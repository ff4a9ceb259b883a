"""Image loading and conversion shared by the viewer's worker threads.

Everything here is safe to call off the GUI thread: files are read through
Pillow (with the SGC plugin registered) and the public :mod:`sgcformat` API,
and results are handed back as :class:`QImage`, never as widgets or pixmaps.
"""

from __future__ import annotations

import colorsys
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPen

import sgcformat
from sgcformat.files import save_image_atomic
from sgcformat.pil import SgcImageFile  # importing the plugin registers .sgc with Pillow

#: Suffixes the browser lists. Pillow decides whether it can really open a file;
#: a listed file it cannot open gets an error tile, not a crash.
IMAGE_SUFFIXES = frozenset(
    {sgcformat.EXTENSION, ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
)


def is_sgc(path: str | Path) -> bool:
    return Path(path).suffix.lower() == sgcformat.EXTENSION


def is_listed_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


# --- PIL <-> QImage -----------------------------------------------------------------------


def to_qimage(im: Image.Image) -> QImage:
    """Copy a PIL image into a QImage that owns its pixels (safe to pass between threads)."""
    if im.mode not in ("RGB", "RGBA"):
        has_alpha = "A" in im.getbands() or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    fmt = QImage.Format.Format_RGB888 if im.mode == "RGB" else QImage.Format.Format_RGBA8888
    data = im.tobytes()
    return QImage(data, im.width, im.height, im.width * len(im.mode), fmt).copy()


def array_to_qimage(rgb: np.ndarray) -> QImage:
    """Copy an (h, w, 3) uint8 array into a QImage."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pil(image: QImage) -> Image.Image:
    """Copy a QImage into an RGB PIL image."""
    q = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = q.width(), q.height(), q.bytesPerLine()
    ptr = q.constBits()
    ptr.setsize(q.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(h, stride)[:, : 3 * w]
    return Image.fromarray(rows.reshape(h, w, 3).copy(), "RGB")


# --- loading --------------------------------------------------------------------------------


def describe_error(exc: BaseException) -> str:
    """One line for the user on why a file cannot be shown."""
    if isinstance(exc, sgcformat.SgcFormatError):
        return f"Not a valid SGC file: {exc}"
    if isinstance(exc, EmptyFileError):
        return f"Cannot open this file: {exc}"
    if isinstance(exc, OSError):
        return f"Cannot read the file: {exc.strerror or exc}"
    return f"Cannot open this file: {exc}"


class EmptyFileError(OSError):
    """A 0-byte file: says so, instead of a format's "bad signature"."""


def check_not_empty(path: str | Path) -> None:
    if Path(path).stat().st_size == 0:
        raise EmptyFileError("empty file (0 bytes)")


def thumbnail_pil(path: str | Path, size: int) -> tuple[Image.Image, tuple[int, int]]:
    """A PIL thumbnail that fits ``size``×``size`` and the picture's full size.

    For ``.sgc`` files it is the weight-free preview: the explicit draft makes the
    plugin render it straight at thumbnail size (no model) and JPEG decode at reduced
    scale. ``thumbnail()`` alone skips the draft for pictures already smaller than
    ``size`` — and would then run the model.
    """
    with Image.open(path) as im:
        full = im.size
        im.draft("RGB", (size, size))
        im.thumbnail((size, size))
        return im.copy() if im.mode in ("RGB", "RGBA") else im.convert("RGB"), full


def load_thumbnail(path: str | Path, size: int, with_size: bool = False):
    """:func:`thumbnail_pil` as a QImage (and the full size when ``with_size``)."""
    im, full = thumbnail_pil(path, size)
    return (to_qimage(im), full) if with_size else to_qimage(im)


def load_full_preview(path: str | Path) -> QImage:
    """The whole picture at full size: the preview of an ``.sgc`` file, or the image itself."""
    with Image.open(path) as im:
        im.draft("RGB", im.size)
        im.load()
        return to_qimage(im)


def decode_sample(
    path: str | Path, seed: int | None, *, steps: int | None = None, profile: str | None = None,
    callback=None, cancel=None, use_cache: bool = True,
) -> QImage:
    """Generative decode of ``path`` with ``seed`` (``None``: the file's stored seed).

    ``steps`` overrides the profile's (and the file's) sampling step count; ``profile``
    decodes with another profile than the file's (labels of another vocabulary go through
    the Pillow plugin's vocabulary bridges). Runs the
    diffusion model through the Pillow plugin: call it from the decode worker thread
    only. Raises :class:`sgcformat.DecodeCancelled` when ``cancel`` is set mid-decode
    and :class:`sgcformat.ModelNotFoundError` when the profile's model is not installed.
    """
    with Image.open(path) as im:
        if not isinstance(im, SgcImageFile):
            raise ValueError(f"{Path(path).name} is not an SGC file")
        im.decoder_options(seed=seed, steps=steps, profile=profile, callback=callback,
                           cancel=cancel, use_cache=use_cache)
        im.load()
        return to_qimage(im)


# --- semantic maps --------------------------------------------------------------------------


def class_palette(vocab: str) -> np.ndarray:
    """One RGB colour per class: the vocabulary's own palette when it ships one.

    Vocabularies without a palette file get well-separated colours from the golden
    ratio hue sequence, so neighbouring class ids never look alike.
    """
    size = sgcformat.VOCABULARIES[vocab].size
    palette_file = resources.files("sgcformat").joinpath(f"data/vocab/{vocab}.palette.txt")
    if palette_file.is_file():
        rows = [line.split() for line in palette_file.read_text().splitlines() if line.strip()]
        palette = np.array(rows, dtype=np.uint8)
        if palette.shape == (size, 3):
            return palette
    hues = (np.arange(size) * 0.618033988749895) % 1.0
    colours = [colorsys.hsv_to_rgb(h, 0.65 + 0.35 * (i % 2), 0.95 - 0.25 * (i % 3 == 2))
               for i, h in enumerate(hues)]
    return (np.array(colours) * 255).round().astype(np.uint8)


def label_map_image(label_map: np.ndarray, vocab: str) -> QImage:
    """The label map in class colours, one pixel per grid cell (scale it with nearest)."""
    return array_to_qimage(class_palette(vocab)[label_map])


def display_names(vocab: str) -> tuple[str, ...]:
    """Short class names for legends: the registry's display names where it has them."""
    entry = sgcformat.VOCABULARIES[vocab]
    try:
        return entry.display_names
    except (AttributeError, FileNotFoundError):  # registries without display names
        return entry.class_names


def classes_present(label_map: np.ndarray, vocab: str) -> list[tuple[int, str, float]]:
    """``(class id, name, share of the map)`` for every class in the map, largest first."""
    names = display_names(vocab)
    ids, counts = np.unique(label_map, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    total = label_map.size
    return [(int(ids[i]), names[int(ids[i])], counts[i] / total) for i in order]


def format_share(share: float) -> str:
    """A class's share of the map; a class that is there never reads "0 %"."""
    return "<1 %" if share < 0.005 else f"{share:.0%}".replace("%", " %")


# --- export ---------------------------------------------------------------------------------


def export_png(image: QImage, path: str | Path, *, seed: int | None, profile: str | None,
               source: str | Path) -> None:
    """Save ``image`` as PNG with where it came from in tEXt chunks."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"sgc-viewer (sgcformat {sgcformat.__version__})")
    info.add_text("sgc:source", str(Path(source).resolve()))
    if profile is not None:
        info.add_text("sgc:profile", profile)
    if seed is not None:
        info.add_text("sgc:seed", str(seed))
    save_image_atomic(to_pil(image), path, format="PNG", pnginfo=info)


# --- tiles ----------------------------------------------------------------------------------


def error_tile(size: int, message: str) -> QImage:
    """A placeholder thumbnail that says why a file could not be shown."""
    tile = QImage(size, size, QImage.Format.Format_RGB888)
    tile.fill(QColor(70, 30, 30))
    painter = QPainter(tile)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(255, 170, 150), max(2, size // 40)))
        r = size * 0.14
        cx, cy = size / 2, size * 0.27
        painter.drawEllipse(QRectF(cx - r, cy - r, 2 * r, 2 * r))
        font = QFont()
        font.setPixelSize(max(8, int(r * 1.4)))
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(QRectF(cx - r, cy - r, 2 * r, 2 * r), Qt.AlignmentFlag.AlignCenter, "!")
        font.setBold(False)
        font.setPixelSize(max(7, size // 13))
        painter.setFont(font)
        painter.setPen(QColor(255, 225, 215))
        painter.drawText(
            QRectF(size * 0.06, size * 0.46, size * 0.88, size * 0.5),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
            message,
        )
    finally:
        painter.end()
    return tile
