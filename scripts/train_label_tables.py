"""Train the label coder's initial match- and rank-context tables (spec/sgc-coding.md Appendix A).

Counts, over label maps at several square grid sizes and their mirror images (more
boundaries to learn from), how often each match context sees a miss and each escape-rank
context a stop (a 0 bit), and quantises that probability to the nearest of the coder's 15
initial levels (in the log-odds domain); contexts seen fewer than ``--min-count`` times
stay untrained (entry 0).

By default it trains on the corpus's cityscapes, camvid and aerial maps only, so the
benchmark's coco-stuff and ade20k maps remain held out. Prints the tables as the hex
strings for ``_INIT_TABLE`` and ``_RANK_TABLE`` in sgcformat/coding/labels.py.

    python scripts/train_label_tables.py [--corpus ../shared/corpus] [--vocab cityscapes-34 ...]
        [--sizes 24 32 40 48] [--no-mirror] [--min-count 1]

With ``--presence objectInfo150.csv`` it prints instead the ade20k-150 presence prior
(``PRESENCE`` in labels.py, spec Appendix B) from that public ADE20K table.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from sgcformat import maps, registry
from sgcformat.coding import labels, rangecoder

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = ("coco-stuff-182", "ade20k-150")


class _Counter(rangecoder.Encoder):
    """An encoder that also counts (decisions, 1 bits) per match and per rank context."""

    __slots__ = ("match", "rank", "rank_contexts")

    def __init__(self, match: dict[int, list[int]], rank: dict[int, list[int]]) -> None:
        super().__init__()
        self.match, self.rank = match, rank
        self.rank_contexts: list[int] | None = None  # the map's RANK contexts, once created

    def bit_mean(self, probs, indices, bit):
        for i in indices:
            _tally(self.match, i, bit)
        super().bit_mean(probs, indices, bit)

    def bit(self, probs, i, bit):
        if probs is self.rank_contexts:
            _tally(self.rank, i, bit)
        super().bit(probs, i, bit)


def _tally(counts: dict[int, list[int]], i: int, bit: int) -> None:
    entry = counts[i]
    entry[0] += 1
    entry[1] += bool(bit)


def count(label_maps: list[np.ndarray]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(match, rank) counts: context index -> [decisions, 1 bits]."""
    match: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rank: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    original = labels._rank_contexts
    try:
        for ids in label_maps:
            counter = _Counter(match, rank)

            def tracked(counter=counter):
                counter.rank_contexts = original()
                return counter.rank_contexts

            labels._rank_contexts = tracked
            labels.code_map(counter, ids, 1 + int(ids.max()))
    finally:
        labels._rank_contexts = original
    return match, rank


def quantise(counts: dict[int, list[int]], size: int, min_count: int) -> str:
    """Hex digit per context: nearest initial level to the smoothed probability of a 1 bit."""
    logit = [math.log(p / (rangecoder.PROB_ONE - p)) for p in labels.INIT_LEVELS]
    digits = []
    for i in range(size):
        n, ones = counts.get(i, (0, 0))
        if n < min_count:
            digits.append("0")
            continue
        zero = (n - ones + 0.5) / (n + 1)
        target = math.log(zero / (1 - zero))
        level = min(range(len(logit)), key=lambda q: abs(logit[q] - target))
        digits.append(f"{level + 1:x}")
    return "".join(digits)


def tables(counted: list[tuple[dict, dict]], min_count: int = 1) -> tuple[str, str]:
    """(match table, rank table) as hex strings from the summed :func:`count` results of
    several sets of maps (e.g. one per image, to leave one out)."""
    match: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rank: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for part, total in ((0, match), (1, rank)):
        for c in counted:
            for i, (n, ones) in c[part].items():
                total[i][0] += n
                total[i][1] += ones
    return (quantise(match, 3 * labels._GROUP_SIZE, min_count),
            quantise(rank, len(labels._RANK_INIT) // 2, min_count))


@contextlib.contextmanager
def applied(match_table: str, rank_table: str) -> Iterator[None]:
    """Code label maps with these tables (the reference coder; for evaluation, e.g. bench/bitrate.py)."""
    saved, pure = (labels._MATCH_INIT, labels._RANK_INIT), os.environ.get("SGC_PURE_PYTHON")
    labels._MATCH_INIT = labels._initial_match_contexts(match_table)
    labels._RANK_INIT = labels._initial_match_contexts(rank_table, rangecoder.PROB_INIT)
    os.environ["SGC_PURE_PYTHON"] = "1"
    try:
        yield
    finally:
        labels._MATCH_INIT, labels._RANK_INIT = saved
        if pure is None:
            del os.environ["SGC_PURE_PYTHON"]
        else:
            os.environ["SGC_PURE_PYTHON"] = pure


def load_maps(corpus: Path, vocabs: list[str], sizes: list[int], mirror: bool,
              only: str | None = None) -> list[np.ndarray]:
    """Label maps at each square grid size, and their mirror images: more boundaries to learn from.

    ``only`` restricts them to the pair of that image (a manifest ``image`` path).
    """
    out = []
    for entry in json.loads((corpus / "manifest.json").read_text()):
        if entry["label"] is None or entry["vocab"] not in vocabs or only not in (None, entry["image"]):
            continue
        vocab = registry.vocabulary(entry["vocab"])
        ids = vocab.labels_from_png(np.asarray(Image.open(corpus / entry["label"])))
        for size in sizes:
            lmap = maps.label_map(ids, (size, size))
            out += [lmap, lmap[:, ::-1]] if mirror else [lmap]
    return out


ADE20K_TRAIN_IMAGES = 20210


def presence_prior(object_info: Path) -> list[int]:
    """ADE20K's per-class share of training images as probabilities /2048 (at least 1)."""
    rows = list(csv.DictReader(object_info.open()))
    assert [int(r["Idx"]) for r in rows] == list(range(1, len(rows) + 1))
    return [max(1, round(rangecoder.PROB_ONE * int(r["Train"]) / ADE20K_TRAIN_IMAGES)) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--vocab", nargs="+", default=["cityscapes-34", "camvid-11", "loveda-7"])
    parser.add_argument("--min-count", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 32, 40, 48, 56, 64])
    parser.add_argument("--no-mirror", dest="mirror", action="store_false")
    parser.add_argument("--presence", type=Path, metavar="CSV",
                        help="print the ade20k-150 presence prior from ADE20K's objectInfo150.csv")
    args = parser.parse_args()
    if args.presence:
        print(", ".join(map(str, presence_prior(args.presence))))
        return
    label_maps = load_maps(args.corpus, args.vocab, args.sizes, args.mirror)
    table, rank_table = tables([count(label_maps)], args.min_count)
    trained = sum(d != "0" for d in table)
    print(f"# {len(label_maps)} maps from {', '.join(args.vocab)}; {trained} match contexts trained")
    for start in range(0, len(table), 64):
        print(f'    "{table[start:start + 64]}"')
    print(f'_RANK_TABLE = "{rank_table}"')


if __name__ == "__main__":
    main()
