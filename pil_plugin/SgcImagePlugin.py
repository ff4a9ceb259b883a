"""Pillow driver for ``.sgc`` files (semantic generative compression).

Modelled on Pillow's own plugins: :class:`SgcImageFile` identifies and validates
the file in ``_open`` without decoding anything, and the costly generative decode
happens in :meth:`SgcImageFile.load`. Importing this module registers the format.

Design choices (documented for users in ``docs/pillow.md``):

- An ``.sgc`` file is a few hundred bytes, and its CRC covers all of them, so
  ``_open`` reads the whole file (capped at the format's 1 MiB limit) and
  validates it with :func:`sgcformat.container.parse`. Every problem found there
  raises ``SyntaxError`` (Pillow turns it into ``UnidentifiedImageError``), except
  a cut or damaged body (CRC mismatch) behind a valid header: that opens, and
  ``load()`` raises ``OSError`` unless ``ImageFile.LOAD_TRUNCATED_IMAGES`` is set —
  Pillow's rule for truncated images.
- Frames are samples, not animation, and only for those who ask: ``n_frames`` is 1
  unless the ``frames`` option (``register_sgc_opener(frames=K)`` or
  ``decoder_options(frames=K)``) asks for more, because readers that stack every
  frame (``imageio.imiter``, ``skimage.io.imread(plugin="pil")``) would otherwise run
  one generative decode per frame. Frame *k* is decoded with seed
  ``(base + k) mod 2**32`` where *base* is the ``seed`` decoder option, else the
  file's stored seed, else 0 (the spec's default). Files of profile ``preview`` have one.
- ``draft()`` switches to the weight-free preview, at a reduced size when asked;
  ``thumbnail()`` paints that preview directly at the size it keeps.
- Output sizes follow Pillow's ``Image.MAX_IMAGE_PIXELS`` (checked again at ``load()``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import IO, Any

from PIL import Image, ImageFile

import sgcformat
from sgcformat import bridges, registry
from sgcformat.container import (
    EXTENSION,
    MIME_TYPE,
    SIGNATURE,
    SUPPORTED_VERSIONS,
    ChunkType,
    DecodeParams,
    SgcFile,
    parse,
    read_limited,
    salvage,
)
from sgcformat.errors import ChecksumError, SgcFormatError, TruncatedFileError
from sgcformat.photo_metadata import ORIENTATION_TAG, to_exif, upright_exif
from sgcformat.preview_decoder import render_preview

#: Frames (alternative samples) the viewer offers when it opts in with ``frames=N_FRAMES``.
N_FRAMES = 8

#: Largest ``frames`` option: each frame is a generative decode.
MAX_FRAMES = 1024

#: Profile whose segmenter runs when ``save()`` gets neither ``labels`` nor ``profile``/``vocab``.
DEFAULT_SAVE_PROFILE = "ldm-semantic-512"

#: Options ``register_sgc_opener()`` accepts as defaults for every image opened afterwards.
DEFAULT_OPTIONS = ("device", "dtype", "steps", "strength", "guidance_scale", "fast", "profile",
                   "use_cache", "frames")

#: Options ``SgcImageFile.decoder_options()`` accepts for one image.
IMAGE_OPTIONS = (*DEFAULT_OPTIONS, "seed", "callback", "cancel")

#: Keyword arguments ``Image.save(..., format="SGC")`` accepts.
SAVE_OPTIONS = frozenset({
    "labels", "vocab", "profile", "target_bytes", "bpp", "label_size", "color_size",
    "color_quality", "seed", "device", "exif", "xmp", "icc_profile", "version",
})

#: Generic keys other programs pass to every format, accepted and ignored: ``dpi``
#: (``matplotlib.pyplot.imsave`` always sends it; SGC stores no physical resolution).
IGNORED_SAVE_OPTIONS = frozenset({"dpi"})

_SEED_MODULUS = 2**32

_defaults: dict[str, Any] = {}

#: info keys of the ancillary chunks ``_open`` copies (META: the essential record, as EXIF
#: when there is no EXIF chunk).
_INFO_CHUNKS = {ChunkType.EXIF: "exif", ChunkType.XMP: "xmp", ChunkType.ICC: "icc_profile",
                ChunkType.META: "exif"}


def _accept(prefix: bytes) -> bool | str:
    if not prefix.startswith(SIGNATURE):
        return False
    if len(prefix) > len(SIGNATURE) and prefix[len(SIGNATURE)] not in SUPPORTED_VERSIONS:
        return (f"SGC version {prefix[len(SIGNATURE)]} is not supported "
                f"(this reader: {', '.join(map(str, SUPPORTED_VERSIONS))})")
    return True


def _check_options(options: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Validate decoder options now, so a typo fails where it was made and not at ``load()``."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown SGC decoder option(s) {unknown}; known: {list(allowed)}")
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "seed": (lambda v: _is_int(v) and 0 <= v < _SEED_MODULUS, "an integer in 0..2**32-1"),
        "steps": (lambda v: _is_int(v) and 1 <= v <= 65535, "an integer in 1..65535"),
        "frames": (lambda v: _is_int(v) and 1 <= v <= MAX_FRAMES, f"an integer in 1..{MAX_FRAMES}"),
        # Ranges of the PARAMS chunk fields the values travel in (spec §5).
        "strength": (lambda v: _is_number(v) and 0.01 <= v <= 1, "a number in 0.01..1"),
        "guidance_scale": (lambda v: _is_number(v) and 0.1 <= v <= 25.5, "a number in 0.1..25.5"),
        "profile": (lambda v: v in registry.PROFILES, f"one of {sorted(registry.PROFILES)}"),
        "fast": (lambda v: isinstance(v, bool), "True or False"),
        "dtype": (lambda v: v in ("fp32", "fp16", "bf16"), "'fp32', 'fp16' or 'bf16'"),
        "use_cache": (lambda v: isinstance(v, bool), "True or False"),
        "callback": (callable, "a callable(step, total)"),
        "cancel": (lambda v: callable(getattr(v, "is_set", None)), "a threading.Event"),
    }
    for name, value in options.items():
        if value is None or name not in checks:
            continue
        ok, expected = checks[name]
        if not ok(value):
            raise ValueError(f"SGC decoder option {name}={value!r}: expected {expected}")
    return {k: v for k, v in options.items() if v is not None}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class SgcImageFile(ImageFile.ImageFile):
    """An ``.sgc`` file as a Pillow image: lazy open, generative decode on ``load()``."""

    format = "SGC"
    format_description = "Semantic generative compression"

    # Per-image state whose value at open is the same for every file: class attributes, so
    # an open sets none of them (seek(), draft() and decoder_options() set their own).
    _problem: SgcFormatError | None = None
    _frame = 0
    _drafted = False
    n_frames = 1
    is_animated = False

    def _open(self) -> None:
        # Every open runs this (Image.open(p).size, a folder scan): it sets only what
        # differs between files, and validates all of it through parse() (CRC included).
        assert self.fp is not None
        data = read_limited(self.fp)  # what is there, at most the format's limit + 1
        try:
            sgc = parse(data)
        except (TruncatedFileError, ChecksumError) as exc:
            # A cut or damaged body behind an intact header opens, like a truncated PNG;
            # load() then raises unless ImageFile.LOAD_TRUNCATED_IMAGES.
            try:
                sgc = salvage(data)
            except SgcFormatError as header_error:
                raise SyntaxError(str(header_error)) from exc
            self._problem = exc
        except SgcFormatError as exc:
            raise SyntaxError(str(exc)) from exc

        self._sgc = sgc
        self._size = size = sgc.size
        self._mode = "RGB"
        # Shared with the module defaults, never changed in place: decoder_options() and
        # register_sgc_opener() replace the dict instead.
        self._options = options = _defaults
        if "frames" in options:
            self._set_frames()
        seed = self._stored_seed = sgc.seed or 0  # parsed once: info["seed"] is read on every seek
        self.info = info = {
            "profile": sgc.profile,
            "vocab": sgc.vocab,
            "label_size": sgc.label_size,
            "color_size": sgc.color_size,
            "color_quality": sgc.color_quality,
            "bpp": len(data) * 8 / (size[0] * size[1]),
        }
        for chunk in sgc.chunks:  # ascending types: EXIF, XMP, ICC, META in this order
            key = _INFO_CHUNKS.get(chunk.type)
            if key is None:
                continue
            if chunk.type != ChunkType.META:
                info[key] = chunk.data
            elif "exif" not in info:
                # The essential record, as EXIF for readers that expect info["exif"]; a
                # damaged ancillary chunk never stops the image from opening.
                with contextlib.suppress(SgcFormatError):
                    info["exif"] = to_exif(sgc.metadata)
        # seed(): no frame yet, and the defaults never hold a seed (not in DEFAULT_OPTIONS).
        info["seed"] = seed
        self.tile = [ImageFile._Tile("sgc", (0, 0, *size), 0, None)]

    # -- public API beyond Pillow's ------------------------------------------------------

    @property
    def sgc(self) -> SgcFile:
        """The parsed file (header fields, coded maps, chunks)."""
        return self._sgc

    @property
    def seed(self) -> int:
        """Seed of the current frame: ``(base + tell()) mod 2**32`` (see the module docstring)."""
        base = self._options.get("seed", self._stored_seed)
        return (base + self._frame) % _SEED_MODULUS

    def decoder_options(self, **options: Any) -> dict[str, Any]:
        """Set options for the decodes still to come; return the options in effect.

        Accepted: ``seed`` (frame 0's seed), ``steps``, ``strength``, ``guidance_scale``,
        ``fast`` (the profile's few-step mode), ``device``, ``dtype`` (``"fp32"``, ``"fp16"``,
        ``"bf16"``), ``profile`` (decode with another profile, e.g. ``"preview"``; labels of
        other vocabularies go through :mod:`sgcformat.bridges`), ``use_cache`` (the decoder's
        on-disk cache of decoded images), ``callback(step, total)``, ``cancel`` (a
        ``threading.Event``), ``frames`` (``n_frames``: seeds offered as frames).
        ``None`` restores the default of an option. Raises ``ValueError`` for unknown
        options or values, and once the current frame is loaded (``seek()`` first).
        """
        if options:
            if not self.tile:
                raise ValueError("set decoder options before load(); seek() to decode a frame again")
            checked = _check_options(options, IMAGE_OPTIONS)
            if "profile" in checked:
                bridges.for_profile(self._sgc.vocabulary, checked["profile"])
            new = dict(self._options)
            for name, value in options.items():
                if value is None:
                    new.pop(name, None)
                    if name in _defaults:
                        new[name] = _defaults[name]
            new.update(checked)
            if self._frame >= new.get("frames", 1):
                raise ValueError(f"frame {self._frame} is current: seek() to a frame below "
                                 f"frames={new.get('frames', 1)} first")
            self._options = new
            self._set_frames()
            self.info["seed"] = self.seed
        return dict(self._options)

    # -- Pillow protocol -----------------------------------------------------------------

    def seek(self, frame: int) -> None:
        if not self._seek_check(frame):
            return
        self._frame = frame
        self._reset_tile()

    def tell(self) -> int:
        return self._frame

    def draft(
        self, mode: str | None, size: tuple[int, int] | None
    ) -> tuple[str, tuple[int, int, int, int]] | None:
        """Switch to the weight-free preview, at the smallest size covering ``size``.

        The result keeps the aspect ratio and is never larger than the declared
        size; the mode stays RGB. No effect once loaded, as for JPEG.
        """
        if not self.tile:
            return None
        width, height = self._sgc.size
        if size is not None:
            rw, rh = (int(v) for v in size)
            if rw < 1 or rh < 1:
                raise ValueError(f"draft size must be positive, got {size}")
            if rw * height >= rh * width:  # the width constrains the scale
                new = (rw, -(-height * rw // width))
            else:
                new = (-(-width * rh // height), rh)
            if new[0] < width and new[1] < height:
                width, height = new
        self._drafted = True
        self._size = (width, height)
        self._reset_tile()
        return "RGB", (0, 0, width, height)

    def thumbnail(self, size: tuple[float, float], resample: int = Image.Resampling.BICUBIC,
                  reducing_gap: float | None = 2.0) -> None:
        """As Pillow's, but the preview is painted at the size the thumbnail keeps.

        Pillow drafts at twice the size (``reducing_gap``) and then resizes; the preview
        is smooth at that scale, so painting it at the final size directly looks the same
        and skips the resize. ``reducing_gap=None`` (no draft) keeps Pillow's behaviour.
        """
        final = thumbnail_size(self.size, size)
        if not self.tile or reducing_gap is None or final is None:
            super().thumbnail(size, resample, reducing_gap)
            return
        self._drafted = True
        self._size = final
        self._reset_tile()
        self.load()

    def load(self) -> Image.core.PixelAccess | None:
        if self.tile:
            _check_pixels(self.size)
            image = self._render()
            if image.size != self.size:
                raise OSError(f"SGC decoder returned {image.size}, expected {self.size}")
            self.im = (image if image.mode == "RGB" else image.convert("RGB")).im
            self.tile = []
            self.readonly = 0
            if self._exclusive_fp and self.fp:
                self.fp.close()
            self.fp = None
        return Image.Image.load(self)

    def load_seek(self, pos: int) -> None:
        """Nothing to seek: the whole file was read by ``_open``."""

    # -- internals -----------------------------------------------------------------------

    def _set_frames(self) -> None:
        self.n_frames = 1 if self._sgc.profile == "preview" else self._options.get("frames", 1)

    def _reset_tile(self) -> None:
        self.info["seed"] = self.seed
        self.tile = [ImageFile._Tile("sgc", (0, 0, *self.size), 0, None)]

    def _render(self) -> Image.Image:
        sgc = self._sgc
        if self._problem is not None:
            if not ImageFile.LOAD_TRUNCATED_IMAGES:
                raise OSError(f"image file is truncated or damaged: {self._problem}")
            try:
                sgc.label_map, sgc.color_map  # noqa: B018
            except SgcFormatError:
                return Image.new("RGB", self.size)  # nothing to paint: black, as Pillow leaves cut data
        try:
            sgc.label_map  # noqa: B018 - decode both maps now, so bitstream errors are OSErrors
            sgc.color_map  # noqa: B018
        except SgcFormatError as exc:
            raise OSError(f"broken data stream when reading SGC file: {exc}") from exc
        options = self._options
        profile = options.get("profile", sgc.profile)
        if self._drafted or profile == "preview":
            return render_preview(sgc, self.size, check_size=False)  # Pillow's limit applies
        sgc = bridges.retarget(sgc, profile)
        params = DecodeParams(
            steps=options.get("steps", sgc.params.steps),
            strength=options.get("strength", sgc.params.strength),
            guidance_scale=options.get("guidance_scale", sgc.params.guidance_scale),
        )
        sgc = sgc.with_params(params)
        from sgcformat.models import generate

        try:
            return generate(
                sgc, seed=self.seed, steps=params.steps, device=options.get("device"),
                callback=options.get("callback"), cancel=options.get("cancel"),
                use_cache=options.get("use_cache", True), fast=options.get("fast", False),
                dtype=options.get("dtype"),
            )
        except ModuleNotFoundError as exc:
            raise _models_missing(f"decoding profile {profile}", exc) from exc


def _models_missing(what: str, exc: ModuleNotFoundError) -> OSError:
    """The one-line error of a decode or encode that needs torch when it is not installed."""
    return OSError(f"{what} needs the models extra ({exc.name} is missing): pip install 'sgcformat[models]'")


def _check_pixels(size: tuple[int, int]) -> None:
    """Pillow's decompression-bomb error, at ``load()`` too: the limit may have changed since open."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and size[0] * size[1] > 2 * limit:
        raise Image.DecompressionBombError(
            f"Image size ({size[0] * size[1]} pixels) exceeds limit of {2 * limit} pixels, "
            "could be decompression bomb DOS attack.")


def thumbnail_size(current: tuple[int, int], size: tuple[float, float]) -> tuple[int, int] | None:
    """The size ``Image.thumbnail(size)`` keeps (Pillow's own rule), ``None`` if it keeps the image."""
    x, y = (math.floor(v) for v in size)
    width, height = current
    if x >= width and y >= height:
        return None
    aspect = width / height
    if x / y >= aspect:
        candidates, key = (math.floor(y * aspect), math.ceil(y * aspect)), lambda n: abs(aspect - n / y)
        return max(min(candidates, key=key), 1), y
    candidates = (math.floor(x / aspect), math.ceil(x / aspect))
    return x, max(min(candidates, key=lambda n: 0 if n == 0 else abs(aspect - x / n)), 1)


def _metadata_chunks(im: Image.Image, options: dict[str, Any]) -> tuple[Any, ...]:
    """EXIF/XMP/ICC chunks, only for the keys asked for: ``True`` copies the image's own."""
    from sgcformat.container import Chunk

    chunks = []
    for key, type_ in (("exif", ChunkType.EXIF), ("xmp", ChunkType.XMP),
                       ("icc_profile", ChunkType.ICC)):
        value = options.pop(key, None)
        if value is True:
            value = im.info.get(key)
            if key == "exif" and value is None and len(exif := im.getexif()):
                value = exif
        if value is None or value is False:
            continue
        if isinstance(value, Image.Exif):
            value = value.tobytes()
        if isinstance(value, str):
            value = value.encode()
        if not isinstance(value, (bytes, bytearray)):
            raise ValueError(f"SGC save option {key}= takes bytes or True, not {type(value).__name__}")
        value = bytes(value)
        if key == "exif" and value.startswith(b"Exif\x00\x00"):
            value = value[6:]  # the chunk holds raw Exif from the TIFF header on (spec §5)
        if key == "exif" and im.getexif().get(ORIENTATION_TAG, 1) != 1:
            value = upright_exif(value)  # encode stores the pixels turned upright
        chunks.append(Chunk(type_, value))
    return tuple(chunks)


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    options = {k: v for k, v in im.encoderinfo.items() if k not in IGNORED_SAVE_OPTIONS}
    unknown = sorted(set(options) - SAVE_OPTIONS)
    if unknown:
        raise ValueError(f"unsupported SGC save option(s) {unknown}; known: {sorted(SAVE_OPTIONS)}")
    chunks = _metadata_chunks(im, options)
    options = {k: v for k, v in options.items() if v is not None}
    if not {"labels", "vocab", "profile"} & options.keys():
        options["profile"] = DEFAULT_SAVE_PROFILE
    try:
        sgc = sgcformat.encode(im, chunks=chunks, **options)
    except ModuleNotFoundError as exc:
        raise _models_missing("saving without labels (the segmenter)", exc) from exc
    fp.write(sgc.to_bytes())


def register_sgc_opener(**defaults: Any) -> None:
    """Register the SGC format with Pillow; ``defaults`` apply to every image opened afterwards.

    Like pillow-heif's ``register_heif_opener``. Accepted defaults: ``device``, ``steps``,
    ``strength``, ``guidance_scale``, ``fast``, ``profile`` (e.g. ``"preview"`` to never load
    a model), ``use_cache``, ``frames`` (``n_frames`` of generative files: seeds as frames, e.g.
    :data:`N_FRAMES` in a viewer; default 1). Each call replaces the previous defaults; call it
    with none to reset.
    """
    global _defaults
    _defaults = _check_options(defaults, DEFAULT_OPTIONS)
    Image.register_open(SgcImageFile.format, SgcImageFile, _accept)
    Image.register_save(SgcImageFile.format, _save)
    Image.register_extension(SgcImageFile.format, EXTENSION)
    Image.register_mime(SgcImageFile.format, MIME_TYPE)


register_sgc_opener()

__all__ = ["IGNORED_SAVE_OPTIONS", "N_FRAMES", "SgcImageFile", "register_sgc_opener"]
