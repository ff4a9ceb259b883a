"""Classical codecs at a matched rate: the anchors SGC is compared against.

For each codec the quality parameter is binary-searched for the best encoding
that fits the target byte count (the SGC file's size). Most codecs cannot go as
low as a few hundred bytes on a full photo; then the smallest encoding the codec
can make is kept and the result says so (``reached=False``), as the paper does
for JPEG 2000.

VVC (the paper's anchor) runs through ``vvencapp``/``vvdecapp`` when they are on
PATH, and is skipped otherwise.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, features


@dataclass(frozen=True)
class Encoded:
    """One codec's encoding of an image: the bytes, the decoded pixels, and how it was set."""

    codec: str
    data: bytes
    image: Image.Image
    setting: str
    target_bytes: int
    reached: bool

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Codec:
    """A codec with one monotone quality knob ``lo..hi`` (higher = larger file)."""

    name: str
    encode: Callable[[Image.Image, float], bytes]
    decode: Callable[[bytes], Image.Image]
    lo: float
    hi: float
    integer: bool = True
    describe: Callable[[float], str] = lambda q: f"q={q:g}"

    def at_rate(self, image: Image.Image, target_bytes: int, steps: int = 14) -> Encoded:
        """The largest encoding of ``image`` within ``target_bytes``, else the smallest possible."""
        image = image.convert("RGB")
        best = (self.lo, self.encode(image, self.lo))
        if len(best[1]) > target_bytes:
            return self._result(*best, target_bytes, reached=False)
        top = self.encode(image, self.hi)
        if len(top) <= target_bytes:
            return self._result(self.hi, top, target_bytes, reached=True)
        lo, hi = self.lo, self.hi
        for _ in range(steps):
            if (hi - lo <= 1) if self.integer else (hi / lo < 1.01):
                break
            q = (lo + hi) // 2 if self.integer else (lo * hi) ** 0.5
            data = self.encode(image, q)
            if len(data) > target_bytes:
                hi = q
                continue
            lo = q
            if len(data) > len(best[1]):  # sizes are not strictly monotone in quality
                best = (q, data)
        return self._result(*best, target_bytes, reached=True)

    def _result(self, q: float, data: bytes, target_bytes: int, reached: bool) -> Encoded:
        image = self.decode(data).convert("RGB")
        return Encoded(self.name, data, image, self.describe(q), target_bytes, reached)


def _pillow_codec(fmt: str, **options) -> tuple[Callable, Callable]:
    def encode(image: Image.Image, q: float) -> bytes:
        buf = io.BytesIO()
        image.save(buf, fmt, quality=int(q), **options)
        return buf.getvalue()

    def decode(data: bytes) -> Image.Image:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.copy()

    return encode, decode


def _jpeg2000() -> Codec:
    """OpenJPEG in rate mode: the knob is the compression ratio's inverse (bits kept)."""

    def encode(image: Image.Image, keep: float) -> bytes:
        buf = io.BytesIO()
        ratio = 1.0 / keep
        image.save(buf, "JPEG2000", irreversible=True, quality_mode="rates", quality_layers=[ratio])
        return buf.getvalue()

    _, decode = _pillow_codec("JPEG2000")
    return Codec("JPEG 2000", encode, decode, 1e-5, 0.5, integer=False,
                 describe=lambda keep: f"ratio={1 / keep:.0f}:1")


def _jpeg_xl() -> Codec | None:
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)
    except ImportError:
        return None
    encode, decode = _pillow_codec("JXL", effort=7)
    return Codec("JPEG XL", encode, decode, 0, 99)  # 100 switches the plugin to lossless


YUV_MATRIX = np.array(  # BT.709 full range, the default of vvenc's --matrix-coefficients
    [[0.2126, 0.7152, 0.0722], [-0.1146, -0.3854, 0.5], [0.5, -0.4542, -0.0458]]
)


def rgb_to_yuv420(rgb: np.ndarray) -> bytes:
    """8-bit RGB (even sides) → planar 4:2:0 YUV bytes (Y, then U, then V)."""
    yuv = rgb.astype(np.float64) @ YUV_MATRIX.T + [0, 128, 128]
    h, w = rgb.shape[:2]
    chroma = yuv[:, :, 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3))
    planes = [yuv[:, :, 0], chroma[:, :, 0], chroma[:, :, 1]]
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def yuv420_to_rgb(data: bytes, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`rgb_to_yuv420` (chroma upsampled by repetition)."""
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.float64)
    y = raw[: width * height].reshape(height, width)
    quarter = (width // 2) * (height // 2)
    u, v = (
        raw[width * height + i * quarter : width * height + (i + 1) * quarter]
        .reshape(height // 2, width // 2).repeat(2, axis=0).repeat(2, axis=1)
        for i in range(2)
    )
    yuv = np.stack([y, u - 128, v - 128], axis=-1)
    return np.clip(np.rint(yuv @ np.linalg.inv(YUV_MATRIX).T), 0, 255).astype(np.uint8)


def _vvc() -> Codec | None:
    """VVC intra through the Fraunhofer vvenc/vvdec command-line apps; the knob is 63 − QP."""
    encoder, decoder = shutil.which("vvencapp"), shutil.which("vvdecapp")
    if not (encoder and decoder):
        return None
    size: dict[str, tuple[int, int]] = {}

    def encode(image: Image.Image, q: float) -> bytes:
        w, h = image.width // 2 * 2, image.height // 2 * 2
        size["wh"] = (w, h)
        rgb = np.asarray(image.crop((0, 0, w, h)))
        with tempfile.TemporaryDirectory() as tmp:
            src, out = Path(tmp, "in.yuv"), Path(tmp, "out.266")
            src.write_bytes(rgb_to_yuv420(rgb))
            subprocess.run(
                [encoder, "-i", str(src), "-s", f"{w}x{h}", "-c", "yuv420", "-r", "1",
                 "--qp", str(63 - int(q)), "--preset", "medium", "-f", "1", "-o", str(out)],
                check=True, capture_output=True,
            )
            return out.read_bytes()

    def decode(data: bytes) -> Image.Image:
        w, h = size["wh"]
        with tempfile.TemporaryDirectory() as tmp:
            src, out = Path(tmp, "in.266"), Path(tmp, "out.yuv")
            src.write_bytes(data)
            subprocess.run([decoder, "-b", str(src), "-o", str(out)], check=True, capture_output=True)
            return Image.fromarray(yuv420_to_rgb(out.read_bytes(), w, h))

    return Codec("VVC", encode, decode, 0, 63, describe=lambda q: f"qp={63 - int(q)}")


def available_codecs() -> list[Codec]:
    """The classical codecs this machine can run, the paper's anchor (VVC) first."""
    codecs: list[Codec | None] = [_vvc()]
    if features.check("avif"):
        codecs.append(Codec("AVIF", *_pillow_codec("AVIF", speed=6), 0, 100))
    codecs.append(_jpeg_xl())
    if features.check_codec("jpg_2000"):
        codecs.append(_jpeg2000())
    if features.check("webp"):
        codecs.append(Codec("WebP", *_pillow_codec("WEBP", method=6), 0, 100))
    codecs.append(Codec("JPEG", *_pillow_codec("JPEG", optimize=True), 1, 95))
    return [c for c in codecs if c is not None]


def missing_codecs() -> dict[str, str]:
    """Codecs of the comparison this machine lacks, with how to get each."""
    missing = {}
    if _vvc() is None:
        missing["VVC"] = "install vvencapp and vvdecapp (github.com/fraunhoferhhi/vvenc, vvdec) on PATH"
    if _jpeg_xl() is None:
        missing["JPEG XL"] = "pip install pillow-jxl-plugin"
    if not features.check("avif"):
        missing["AVIF"] = "a Pillow build with libavif (Pillow ≥ 11.2 wheels have it)"
    if not features.check_codec("jpg_2000"):
        missing["JPEG 2000"] = "a Pillow build with OpenJPEG"
    if not features.check("webp"):
        missing["WebP"] = "a Pillow build with libwebp"
    return missing
