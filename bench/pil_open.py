"""Pillow plugin speed against Pillow's own PNG and JPEG, same images, same run (issue 10 targets 1-2).

    python bench/pil_open.py [--files 1000] [--compare-rev REV]

Targets: ``Image.open(p).size`` ≥ 1.0× PNG; ``with Image.open(p) as im: im.thumbnail((256, 256))``
≥ 2× JPEG (quality 75, which Pillow decodes at a reduced DCT scale in draft mode) and ≥ 500
files/s. Each format's folder holds the labelled corpus photos, repeated up to ``--files``
(.sgc files with profile preview under different seeds, so every file has distinct bytes; PNG
and JPEG as hard links). Formats are interleaved within each of 3 rounds and the best pass
counts, so the ratios compare the same machine state; the open and parse loops (~50 ms) run
5 passes a round, the thumbnail loops one.

The thumbnail paints the preview at the size it keeps; the former path painted at twice that
size (what ``draft()`` is asked for) and let Pillow resize. Both are timed, and the mean absolute
difference of their outputs is reported. ``--compare-rev`` also compares full-size previews with
the preview decoder of an older commit (read with ``git show``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import types
from pathlib import Path

import numpy as np
from _common import CORPUS, ROOT, corpus_entries, markdown_table, write_result
from PIL import Image

import sgcformat
import sgcformat.pil  # registers the format
from sgcformat.coding.rangecoder import native_coder
from sgcformat.container import parse
from sgcformat.pil.SgcImagePlugin import thumbnail_size

FORMATS = ("SGC", "PNG", "JPEG q75")

#: Passes per round of the quick loops (open, parse: ~50 ms each), so that the best of them
#: is the machine's undisturbed speed on a shared machine; the thumbnail loops take seconds.
OPEN_PASSES = 5


def build_folders(folder: Path, count: int) -> dict[str, list[Path]]:
    """``count`` files per format from the corpus photos with labels."""
    bases: dict[str, list] = {f: [] for f in FORMATS}
    for i, e in enumerate(corpus_entries()):
        with Image.open(CORPUS / e["label"]) as labels:
            bases["SGC"].append(sgcformat.encode(CORPUS / e["image"], labels=labels.copy(),
                                                 vocab=e["vocab"], profile="preview"))
        with Image.open(CORPUS / e["image"]) as im:
            photo = im.convert("RGB")
        for name, ext, options in (("PNG", "png", {}), ("JPEG q75", "jpg", {"quality": 75})):
            path = folder / f"base-{i:03d}.{ext}"
            photo.save(path, **options)
            bases[name].append(path)
    paths: dict[str, list[Path]] = {f: [] for f in FORMATS}
    for i in range(count):
        sgc_path = folder / f"{i:04d}.sgc"
        sgcformat.write(sgc_path, bases["SGC"][i % len(bases["SGC"])].with_seed(i))
        paths["SGC"].append(sgc_path)
        for name in FORMATS[1:]:
            base = bases[name][i % len(bases[name])]
            link = folder / f"{i:04d}{base.suffix}"
            os.link(base, link)
            paths[name].append(link)
    return paths


def files_per_second(action, paths: list[Path]) -> float:
    start = time.perf_counter()
    for p in paths:
        action(p)
    return len(paths) / (time.perf_counter() - start)


def open_size(p: Path) -> None:
    Image.open(p).size  # noqa: B018 - exactly the call the target names


def thumbnail(p: Path) -> None:
    with Image.open(p) as im:
        im.thumbnail((256, 256))


def former_thumbnail(p: Path) -> Image.Image | None:
    """The former path: draft at twice the size (as thumbnail() asks), paint, let Pillow resize.

    ``None`` for images no larger than 256×256, which thumbnail() leaves alone.
    """
    with Image.open(p) as im:
        final = thumbnail_size(im.size, (256, 256))
        if final is None:
            return None
        im.draft("RGB", (512, 512))
        return im.resize(final, Image.BICUBIC, reducing_gap=2.0)


def parse_only(p: Path) -> None:
    parse(p.read_bytes())


def thumbnail_difference(paths: list[Path]) -> tuple[float, float]:
    """Mean and largest per-image mean absolute difference: thumbnail() vs the former path."""
    diffs = []
    for p in paths:
        if (former := former_thumbnail(p)) is None:
            continue
        with Image.open(p) as im:
            im.thumbnail((256, 256))
            new = np.asarray(im, dtype=np.float64)
        diffs.append(np.abs(new - np.asarray(former, dtype=np.float64)).mean())
    return float(np.mean(diffs)), float(np.max(diffs))


def revision_difference(paths: list[Path], photos: list[Path], rev: str) -> tuple[float, ...]:
    """Full-size preview vs the preview decoder of commit ``rev``: mean and largest MAD, and the
    mean MAD of each against the photos themselves."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:sgcformat/preview_decoder.py"],
                            capture_output=True, text=True, check=True).stdout
    old = types.ModuleType("old_preview_decoder")
    old.__package__ = "sgcformat"
    exec(compile(source, f"{rev}:preview_decoder.py", "exec"), old.__dict__)  # this repository's own history
    diffs, old_error, new_error = [], [], []
    for p, photo_path in zip(paths, photos, strict=True):
        sgc = sgcformat.read(p)
        a = np.asarray(old.render_preview(sgc), dtype=np.float64)
        b = np.asarray(sgcformat.preview(sgc), dtype=np.float64)
        with Image.open(photo_path) as im:
            photo = np.asarray(im.convert("RGB"), dtype=np.float64)
        diffs.append(np.abs(a - b).mean())
        old_error.append(np.abs(a - photo).mean())
        new_error.append(np.abs(b - photo).mean())
    return (float(np.mean(diffs)), float(np.max(diffs)), float(np.mean(old_error)),
            float(np.mean(new_error)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--compare-rev", help="also compare full-size previews with this commit's")
    args = parser.parse_args()
    operations = {"`Image.open(p).size`": open_size,
                  "`with Image.open(p) as im: im.thumbnail((256, 256))`": thumbnail}
    extra = {"sgcformat.container.parse(p.read_bytes()) (reference)": parse_only,
             "thumbnail, former path (draft at 2×, paint, Pillow resizes)": former_thumbnail}
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_folders(Path(tmp), args.files)
        best = {(op, f): 0.0 for op in [*operations, *extra] for f in FORMATS}
        for _ in range(3):
            for op, action in operations.items():
                for _ in range(OPEN_PASSES if action is open_size else 1):
                    for fmt in FORMATS:
                        best[op, fmt] = max(best[op, fmt], files_per_second(action, paths[fmt]))
            for op, action in extra.items():
                for _ in range(OPEN_PASSES if action is parse_only else 1):
                    best[op, "SGC"] = max(best[op, "SGC"], files_per_second(action, paths["SGC"]))
        distinct = paths["SGC"][: len(corpus_entries())]
        mad = thumbnail_difference(distinct)
        photos = paths["PNG"][: len(distinct)]
        rev_mad = revision_difference(distinct, photos, args.compare_rev) if args.compare_rev else None
        sizes = {f: [p.stat().st_size for p in paths[f]] for f in FORMATS}
    rows = [[op, *(f"{best[op, f]:,.0f}/s" for f in FORMATS),
             f"{best[op, 'SGC'] / best[op, 'PNG']:.2f}×", f"{best[op, 'SGC'] / best[op, 'JPEG q75']:.2f}×"]
            for op in operations]
    # parse against the SGC open, the former thumbnail path against the current one
    versus = dict(zip(extra, zip(operations, ("open", "thumbnail"), strict=True), strict=True))
    extra_rows = [[op, f"{best[op, 'SGC']:,.0f}/s",
                   f"{best[op, 'SGC'] / best[versus[op][0], 'SGC']:.2f}× the SGC {versus[op][1]}"]
                  for op in extra]
    body = (
        f"{args.files} files per format from {len(corpus_entries())} corpus photos with labels "
        f"(SGC: profile preview, {min(sizes['SGC'])}–{max(sizes['SGC'])} bytes, mean "
        f"{np.mean(sizes['SGC']):.0f}; PNG mean {np.mean(sizes['PNG']) / 1024:.0f} KiB; JPEG q75 mean "
        f"{np.mean(sizes['JPEG q75']) / 1024:.0f} KiB). Best of 3 rounds, formats interleaved in each "
        f"round (open and parse: best of {3 * OPEN_PASSES} passes). "
        f"Map decoder: {'native' if native_coder() else 'pure Python'}.\n\n"
        f"Targets (issue 10): open ≥ 1.0× PNG; thumbnail ≥ 2× JPEG and ≥ 500 files/s.\n\n"
        + markdown_table(["loop over the files", *FORMATS, "SGC / PNG", "SGC / JPEG"], rows)
        + "\n\nSGC only, same run:\n\n" + markdown_table(["operation", "files/s", "ratio"], extra_rows)
        + f"\n\nThumbnail painted at the kept size vs the former path: mean absolute difference "
        f"{mad[0]:.2f} of 255 (largest image {mad[1]:.2f}).\n"
    )
    if rev_mad:
        body += (f"\nFull-size preview vs the preview decoder of `{args.compare_rev}`: mean absolute "
                 f"difference {rev_mad[0]:.2f} of 255 (largest image {rev_mad[1]:.2f}); against the "
                 f"photos themselves {rev_mad[3]:.2f} now, {rev_mad[2]:.2f} then.\n")
    write_result("pil_open", "Pillow plugin: open and thumbnail speed against PNG and JPEG", body, {
        "rates": [{"operation": op, "format": f, "files_per_s": rate}
                  for (op, f), rate in best.items() if rate],
        "thumbnail_mad": mad, "revision_mad": rev_mad, "compare_rev": args.compare_rev})


if __name__ == "__main__":
    main()
