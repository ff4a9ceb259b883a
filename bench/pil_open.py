"""Pillow plugin speed (issue 4 targets): ``Image.open(p).size`` and draft thumbnails over 1,000 files.

    python bench/pil_open.py [--files 1000]

Targets: ``Image.open(p).size`` ≥ 5,000 files/s; ``thumbnail((256, 256))`` (draft → preview)
≥ 500 files/s. The folder holds the labelled corpus photos encoded with default settings,
each repeated under different seeds (distinct bytes) up to the requested count.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import CORPUS, corpus_entries, markdown_table, write_result
from PIL import Image

import sgcformat
import sgcformat.pil  # registers the format
from sgcformat.coding.rangecoder import native_coder
from sgcformat.container import parse


def build_folder(folder: Path, count: int) -> list[Path]:
    """``count`` .sgc files from the corpus photos (profile preview, so no model is involved)."""
    sources = []
    for e in corpus_entries():
        with Image.open(CORPUS / e["label"]) as labels:
            sources.append(sgcformat.encode(CORPUS / e["image"], labels=labels.copy(), vocab=e["vocab"],
                                            profile="preview"))
    paths = []
    for i in range(count):
        path = folder / f"{i:04d}.sgc"
        sgcformat.write(path, sources[i % len(sources)].with_seed(i))
        paths.append(path)
    return paths


def rate(action, paths: list[Path], rounds: int = 3) -> float:
    """Best files/s over ``rounds`` passes (the first pass also warms the OS file cache)."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for p in paths:
            action(p)
        best = max(best, len(paths) / (time.perf_counter() - start))
    return best


def open_size(p: Path) -> None:
    Image.open(p).size  # noqa: B018 - exactly the call the target names


def open_size_closed(p: Path) -> None:
    with Image.open(p) as im:
        im.size  # noqa: B018


def thumbnail(p: Path) -> None:
    with Image.open(p) as im:
        im.thumbnail((256, 256))


def parse_only(p: Path) -> None:
    parse(p.read_bytes())


def draft_only(p: Path) -> None:
    """The plugin's share of a thumbnail: open, draft at the size thumbnail() asks, paint."""
    with Image.open(p) as im:
        im.draft("RGB", (512, 512))  # thumbnail((256, 256)) asks for 2x (Pillow's reducing_gap)
        im.load()


DRAFT = Image.new("RGB", (512, 384))


def pillow_downscale(_p: Path) -> None:
    """Pillow's share: thumbnail()'s final resize of a 512x384 draft to 256x192."""
    DRAFT.resize((256, 192), Image.BICUBIC, reducing_gap=2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_folder(Path(tmp), args.files)
        sizes = [p.stat().st_size for p in paths]
        rows = [
            ["sgcformat.container.parse(bytes) (reference)", rate(parse_only, paths), ""],
            ["Image.open(p).size", rate(open_size, paths), "≥ 5,000"],
            ["with Image.open(p) as im: im.size", rate(open_size_closed, paths), ""],
            ["with Image.open(p) as im: im.thumbnail((256, 256))", rate(thumbnail, paths[:200], 2),
             "≥ 500"],
            ["… of which open + draft + preview painting", rate(draft_only, paths[:200], 2), ""],
            ["… of which Pillow's final resize (512×384 → 256×192)", rate(pillow_downscale, paths[:200], 2),
             ""],
        ]
    body = (
        f"{args.files} files (corpus photos with labels, profile preview, {min(sizes)}–{max(sizes)} bytes, "
        f"mean {sum(sizes) / len(sizes):.0f}); best of 3 passes (thumbnails: 200 files, best of 2). "
        f"Map decoder: {'native (sgcformat.coding._native)' if native_coder() else 'pure Python'}.\n\n"
        + markdown_table(["operation", "files/s", "target"], rows)
    )
    write_result("pil_open", "Pillow plugin: open and thumbnail speed", body,
                 {"rows": [{"operation": r[0], "files_per_s": r[1]} for r in rows]})


if __name__ == "__main__":
    main()
