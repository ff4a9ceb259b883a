"""Train the version-2 colour coder's initial context probabilities (spec/sgc-coding.md §6.4).

Codes each photo's default-grid colour map, given its default-grid label map, at qualities 7-9
with the reference encoder and counts, per context, how often it codes a 0; the prior of a
context is that frequency in 32nds (1..31, ``p = 64·k`` of §4.3), or the version-1 value for a
context seen fewer than ``--min-count`` times. Prints the four tables for
``sgcformat/coding/colors.py``.

    python scripts/train_color_tables.py [--corpus ../shared/corpus] [--vocab cityscapes-34 ...]

The bitrate benchmark (bench/bitrate.py) uses :func:`count`, :func:`priors` and :func:`applied`
to report the coder with tables trained without the image it codes (leave one image out, leave
its dataset out).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from sgcformat import maps, registry
from sgcformat.coding import colors, rangecoder
from sgcformat.container import grid_size

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("LOW_ZERO", "LOW_MAG", "ZERO", "MAG")
Counts = dict[tuple[str, int], list[int]]


class _Counter(rangecoder.Encoder):
    """An encoder that also counts (decisions, 1 bits) per context of the colour coder."""

    __slots__ = ("counts", "names")

    def __init__(self, names: dict[int, str], counts: Counts) -> None:
        super().__init__()
        self.names, self.counts = names, counts

    def bit(self, probs, i, bit):
        entry = self.counts.setdefault((self.names[id(probs)], i), [0, 0])
        entry[0] += 1
        entry[1] += bool(bit)
        super().bit(probs, i, bit)


def pair_maps(corpus: Path, entry: dict) -> tuple[np.ndarray, np.ndarray]:
    """The default-grid colour map and label map of a corpus pair."""
    rgb = np.asarray(Image.open(corpus / entry["image"]).convert("RGB"))
    h, w = rgb.shape[:2]
    with Image.open(corpus / entry["label"]) as im:
        ids = registry.vocabulary(entry["vocab"]).labels_from_png(np.asarray(im))
    cmap = maps.color_map(rgb, grid_size(maps.default_long_side(w, h, maps.DEFAULT_COLOR_CELLS), w, h))
    lmap = maps.label_map(ids, grid_size(maps.default_long_side(w, h, maps.DEFAULT_LABEL_CELLS), w, h))
    return cmap, lmap


def count(cmap: np.ndarray, lmap: np.ndarray, qualities=(7, 8, 9)) -> Counts:
    """Per (table, context index): [decisions, 1 bits] of one pair coded at ``qualities``."""
    counts: Counts = {}
    for quality in qualities:
        enc = rangecoder.Encoder()
        coder = colors._BandCoder(enc, colors.STEPS[quality], 2)
        coder.coder = _Counter({id(coder.low_zero): "LOW_ZERO", id(coder.low_mag): "LOW_MAG",
                                id(coder.zero): "ZERO", id(coder.mag): "MAG"}, counts)
        predict = colors._LabelPrediction(lmap, *cmap.shape[:2])
        for index, plane in enumerate(colors._ycocg(cmap.astype(np.int64))):
            coder.plane(index, *colors._analyse(plane), predict)
    return counts


def priors(counts: list[Counts], min_count: int = 4) -> dict[str, tuple[int, ...]]:
    """The tables from the summed counts of several pairs."""
    total: Counts = {}
    for c in counts:
        for key, (n, ones) in c.items():
            entry = total.setdefault(key, [0, 0])
            entry[0] += n
            entry[1] += ones
    out = {}
    for name, current in zip(TABLES, colors.PRIORS[2], strict=True):
        values = []
        for i, fallback in enumerate(current):
            n, ones = total.get((name, i), (0, 0))
            zero = round(32 * (n - ones + 0.5) / (n + 1))
            values.append(fallback if n < min_count else min(31, max(1, zero)))
        out[name] = tuple(values)
    return out




@contextlib.contextmanager
def applied(tables: dict[str, tuple[int, ...]]) -> Iterator[None]:
    """Code version-2 colour maps with ``tables`` (the reference coder; for evaluation only)."""
    saved, pure = colors.PRIORS[2], os.environ.get("SGC_PURE_PYTHON")
    colors.PRIORS[2] = tuple(tables[name] for name in TABLES)
    os.environ["SGC_PURE_PYTHON"] = "1"
    try:
        yield
    finally:
        colors.PRIORS[2] = saved
        if pure is None:
            del os.environ["SGC_PURE_PYTHON"]
        else:
            os.environ["SGC_PURE_PYTHON"] = pure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--vocab", nargs="+", default=None, help="datasets to train on (default: all pairs)")
    parser.add_argument("--min-count", type=int, default=4)
    args = parser.parse_args()
    entries = [e for e in json.loads((args.corpus / "manifest.json").read_text())
               if e["label"] and (args.vocab is None or e["vocab"] in args.vocab)]
    tables = priors([count(*pair_maps(args.corpus, e)) for e in entries], args.min_count)
    print(f"# {len(entries)} pairs")
    for name in TABLES:
        print(f"{name}: {tables[name]}")


if __name__ == "__main__":
    main()
