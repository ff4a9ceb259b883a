"""The work done on one source photo, split into stages that both engines run unchanged.

With given label maps one CPU stage does everything (:func:`encode_chunk`); with the
profile's segmenter the CPU work is split around the model (:func:`prepare_chunk` →
:class:`Segmenter`, fed in batches → :func:`finish_chunk`), so one owner of the GPU model
sees full batches. The functions are pure (same inputs → same bytes), which is why the
engines write byte-identical files.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import photo_metadata, registry
from ..codec import encode, to_rgb
from ..container import EXTENSION
from . import durable, tree
from .items import Failed, Item, Task, guarded, one_line
from .manifest import Row

#: Photo formats Pillow reads only with a plugin: a failure worth reporting, not "not an image".
PLUGIN_FORMATS = {".heic": "pillow-heif", ".heif": "pillow-heif", ".avif": "pillow-avif-plugin",
                  ".jxl": "pillow-jxl-plugin", ".dng": "rawpy", ".cr2": "rawpy", ".nef": "rawpy",
                  ".arw": "rawpy"}


@dataclass(frozen=True)
class EncodeOptions:
    """The settings of one encode run (recorded in the manifest's ``runs`` table)."""

    vocab: str | None = None
    profile: str | None = None
    target_bytes: int | None = None
    bpp: float | None = None
    keep_metadata: str = "essential"
    device: str | None = None

    def segmenter_profile(self) -> str:
        """The profile whose segmenter runs when no label maps are given."""
        profile = self.profile or registry.DEFAULT_PROFILE_FOR_VOCAB.get(self.vocab or "")
        if profile is None or registry.profile(profile).vocab is None:
            raise ValueError("without --labels-dir, name a --profile whose segmenter should run")
        return profile


def _read(item: Item, options: EncodeOptions) -> None:
    """Source bytes → upright RGB image, its hash, and the metadata chunks to keep."""
    t = time.perf_counter()
    path = Path(item.task.src)
    suffix = path.suffix.lower()
    if suffix == EXTENSION:
        raise Failed("skipped", "already an SGC file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Failed("failed", "source disappeared before it was read") from None
    item.nbytes, item.sha256 = len(data), hashlib.sha256(data).hexdigest()
    t = item.timed("read", t)
    if not data:
        raise Failed("failed" if suffix in _image_extensions() else "skipped", "empty file")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            item.data["chunks"] = photo_metadata.chunks_for(im, path.name, options.keep_metadata)
            item.data["rgb"] = to_rgb(im)
    except UnidentifiedImageError:
        if suffix in PLUGIN_FORMATS:
            raise Failed("failed", f"Pillow cannot open {suffix} files without "
                                    f"{PLUGIN_FORMATS[suffix]}") from None
        if suffix in _image_extensions():
            raise Failed("failed", "corrupt image: Pillow cannot identify it") from None
        raise Failed("skipped", "not an image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Failed("failed", f"corrupt image: {one_line(exc)}") from None
    item.timed("decode", t)


def _encode_write(item: Item, options: EncodeOptions, labels) -> None:
    t = time.perf_counter()
    sgc = encode(item.data["rgb"], labels=labels, vocab=options.vocab, profile=options.profile,
                 target_bytes=options.target_bytes, bpp=options.bpp, chunks=item.data["chunks"])
    data = sgc.to_bytes()
    t = item.timed("encode", t)
    out = Path(item.task.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    durable.write(out, data)
    item.written.append(str(out))
    item.timed("write", t)
    item.data.clear()  # the decoded image need not travel back to the driver
    item.row = Row(item.task.rel, "ok", tree.output_rel(item.task.rel), item.nbytes, len(data),
                   item.sha256, None, sum(item.timings.values()))


def _label_map(item: Item, options: EncodeOptions) -> np.ndarray | None:
    """The given label map as loaded pixel values (its checks happen in :func:`encode`)."""
    if item.task.label is None:
        return None
    t = time.perf_counter()
    try:
        with Image.open(item.task.label) as im:
            values = np.asarray(im)
    except FileNotFoundError:
        raise Failed("failed", "label map missing") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Failed("failed", f"unreadable label map: {one_line(exc)}") from None
    item.timed("labels", t)
    return values


def _full(item: Item, options: EncodeOptions) -> None:
    _read(item, options)
    _encode_write(item, options, _label_map(item, options))


def _finish(item: Item, options: EncodeOptions) -> None:
    _encode_write(item, options, item.data["labels"])


def encode_chunk(options: EncodeOptions, tasks: list[Task]) -> list[Item]:
    """Given label maps: read, encode and write each source."""
    return [guarded(Item(t), _full, options) for t in tasks]


def prepare_chunk(options: EncodeOptions, tasks: list[Task]) -> list[Item]:
    """Segmenter path, before the model: read and decode each source."""
    return [guarded(Item(t), _read, options) for t in tasks]


def finish_chunk(options: EncodeOptions, items: list[Item]) -> list[Item]:
    """Segmenter path, after the model: encode and write."""
    return [guarded(item, _finish, options) for item in items]


class Segmenter:
    """The profile's segmenter, loaded once per owner (process or Ray actor), run on batches."""

    def __init__(self, options: EncodeOptions):
        self.profile = options.segmenter_profile()
        self.device = options.device
        self.offset = registry.vocabulary(registry.profile(self.profile).vocab).png_offset

    def __call__(self, items: list[Item]) -> list[Item]:
        from .. import models

        live = [i for i in items if i.live()]
        if live:
            t = time.perf_counter()
            ids = models.segment_batch([i.data["rgb"] for i in live], self.profile, self.device)
            share = (time.perf_counter() - t) / len(live)
            for item, m in zip(live, ids, strict=True):
                item.data["labels"] = np.asarray(m, dtype=np.uint16) + self.offset  # back to PNG values
                item.timings["segment"] = share
        return items


@cache
def _image_extensions() -> frozenset[str]:
    Image.init()
    return frozenset(Image.registered_extensions())
