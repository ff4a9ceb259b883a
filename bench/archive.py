"""Archive throughput on this machine: local workers 1 vs 2, local vs Ray, resume, cost per file.

Builds a tree of N photos (symlinks to the corpus's COCO-Stuff photos, their label maps
mirrored) and runs `encode_tree` on it. Every figure is also given as a ratio against the
`--workers 1` local run measured in the same process, since the machine is shared.
Usage: python bench/archive.py [N] [--ray]
"""

from __future__ import annotations

import datetime
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPUS, RESULTS, machine, markdown_table

from sgcformat.archive import encode_tree
from sgcformat.archive.encoder import EncodeOptions, encode_chunk
from sgcformat.archive.items import Task


def build(root: Path, n: int) -> tuple[Path, Path]:
    photos = sorted((CORPUS / "seg" / "coco_stuff").glob("*.jpg"))
    src, labels = root / "src", root / "labels"
    for i in range(n):
        photo = photos[i % len(photos)]
        folder = f"d{i // 500:03d}"
        (src / folder).mkdir(parents=True, exist_ok=True)
        (labels / folder).mkdir(parents=True, exist_ok=True)
        (src / folder / f"{i:06d}.jpg").symlink_to(photo)
        (labels / folder / f"{i:06d}.png").symlink_to(photo.with_name(photo.stem + ".label.png"))
    return src, labels


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), 2000))
    root = Path(tempfile.mkdtemp(prefix="sgc-archive-bench-"))
    src, labels = build(root, n)
    mb = sum(p.stat().st_size for p in src.rglob("*.jpg")) / 1e6
    rows, ref = [], None
    configs = [("local", 1), ("local", 2)] + ([("ray", 2)] if "--ray" in sys.argv else [])
    for engine, workers in configs:
        dest = root / f"out-{engine}-{workers}"
        t = time.perf_counter()
        s = encode_tree(src, dest, labels_dir=labels, vocab="coco-stuff-182", workers=workers, engine=engine)
        dt = time.perf_counter() - t
        ref = ref or dt
        rows.append([f"encode {engine} --workers {workers}", n, f"{n / dt:.1f}", f"{mb / dt:.2f}",
                     f"{ref / dt:.2f}"])
        assert s.done == n, s.text()
    t = time.perf_counter()
    s = encode_tree(src, root / "out-local-1", labels_dir=labels, vocab="coco-stuff-182")
    dt = time.perf_counter() - t
    rows.append(["resume of the finished tree", n, f"{n / dt:.0f}", "-", f"{ref / dt:.1f}"])
    overhead = dt / ref * 100
    # cost breakdown per file, in this process
    tasks = [Task(p.relative_to(src).as_posix(), str(p), str(root / "cost" / f"{i}.sgc"),
                  str(labels / p.relative_to(src).with_suffix(".png")))
             for i, p in enumerate(sorted(src.rglob("*.jpg"))[:200])]
    (root / "cost").mkdir()
    items = encode_chunk(EncodeOptions(vocab="coco-stuff-182"), tasks)
    costs = {}
    for item in items:
        for k, v in item.timings.items():
            costs[k] = costs.get(k, 0.0) + v
    cost_rows = [[k, f"{1000 * v / len(items):.2f}"] for k, v in costs.items()]
    shutil.rmtree(root, ignore_errors=True)
    text = "\n".join([
        f"# Archive benchmark ({datetime.date.today()}, {machine()})",
        "",
        f"Tree: {n} photos ({mb:.0f} MB, symlinks to the 17 COCO-Stuff corpus photos, ~640x480) with given "
        "label maps. The machine was shared with other jobs: compare the same-run ratios.",
        "",
        markdown_table(["run", "files", "files/s", "MB/s", "speed vs workers 1"], rows),
        "",
        f"Resume overhead: {overhead:.1f} % of the fresh --workers 1 run.",
        "",
        "Cost per file (ms, one process, 200 files): read = source bytes + sha256, decode = JPEG decode "
        "+ EXIF + orientation, labels = label PNG, encode = map extraction + coding, write = atomic write.",
        "",
        markdown_table(["stage", "ms per file"], cost_rows),
    ])
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "archive.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
