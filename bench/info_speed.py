"""``sgc info`` at scale (issue 10 target 3): 10,000 files in one process, against PNG opens.

    python bench/info_speed.py [--files 10000]

Target: ``sgc info --json DIR`` ≥ 5,000 files/s. The folder holds the labelled corpus photos
encoded with default settings (distinct seeds, so distinct bytes). Measured in the same run,
best of 5 rounds, interleaved: ``sgc info --json`` on the folder and on the files named one by
one (in process, output to a null sink; and as a whole ``sgc`` process, startup included), and
the reference ``Image.open(p).size`` over the same photos saved as PNG.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPUS, corpus_entries, markdown_table, write_result
from PIL import Image

import sgcformat
from sgcformat.cli import main as sgc_main

ROUNDS = 5


def build_folder(folder: Path, count: int) -> tuple[list[Path], list[Path]]:
    """``count`` .sgc files in nested folders, and as many PNG paths (hard links to the photos)."""
    sources, pngs = [], []
    for i, e in enumerate(corpus_entries()):
        with Image.open(CORPUS / e["label"]) as labels:
            sources.append(sgcformat.encode(CORPUS / e["image"], labels=labels.copy(), vocab=e["vocab"]))
        with Image.open(CORPUS / e["image"]) as im:
            png = folder / f"photo-{i:03d}.png"
            im.convert("RGB").save(png)
            pngs.append(png)
    sgc_paths, png_paths = [], []
    for i in range(count):
        sub = folder / "sgc" / f"{i // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"{i:05d}.sgc"
        path.write_bytes(sources[i % len(sources)].with_seed(i).to_bytes())  # a scratch folder: no fsync
        sgc_paths.append(path)
        link = folder / "png" / f"{i:05d}.png"
        link.parent.mkdir(exist_ok=True)
        os.link(pngs[i % len(pngs)], link)
        png_paths.append(link)
    return sgc_paths, png_paths


def in_process(argv: list[str]) -> float:
    """Seconds for ``sgc ARGV`` in this process, output discarded; it must succeed."""
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink):
        status = sgc_main(argv)
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"sgc {' '.join(argv[:3])} ... exited with {status}")
    return seconds


def whole_process(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sgcformat.cli", *argv], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def png_sizes(paths: list[Path]) -> float:
    start = time.perf_counter()
    for p in paths:
        Image.open(p).size  # noqa: B018 - the reference call
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sgc_paths, png_paths = build_folder(folder, args.files)
        named = ["info", "--json", *map(str, sgc_paths)]
        lines = io.StringIO()
        with contextlib.redirect_stdout(lines):
            sgc_main(["info", "--json", str(folder / "sgc")])
        assert lines.getvalue().count("\n") == args.files
        cases = {
            "`sgc info --json DIR` (in process)": lambda: in_process(["info", "--json", str(folder / "sgc")]),
            "`sgc info --json A B C …` (in process)": lambda: in_process(named),
            "`sgc info --json DIR` (whole process, startup included)":
                lambda: whole_process(["info", "--json", str(folder / "sgc")]),
            "reference: `Image.open(p).size` over the same photos as PNG": lambda: png_sizes(png_paths),
        }
        best = dict.fromkeys(cases, float("inf"))
        for _ in range(ROUNDS):
            for name, run in cases.items():
                best[name] = min(best[name], run())
    reference = args.files / best["reference: `Image.open(p).size` over the same photos as PNG"]
    rows = [[name, f"{args.files / seconds:,.0f}", f"{args.files / seconds / reference:.2f}×",
             "≥ 5,000" if name.startswith("`sgc info --json DIR` (in") else ""]
            for name, seconds in best.items()]
    body = (f"{args.files:,} files ({len(corpus_entries())} corpus photos with labels, default settings, "
            f"distinct seeds, in folders of 1,000), best of {ROUNDS} rounds, interleaved.\n\n"
            + markdown_table(["loop", "files/s", "ratio to PNG open", "target"], rows))
    write_result("info_speed", "`sgc info` at scale", body,
                 {"files": args.files, "files_per_s": {k: args.files / v for k, v in best.items()}})


if __name__ == "__main__":
    main()
