"""Archive throughput on this machine: local workers 1 vs 2, local vs Ray, resume, cost per file, RSS.

Builds a tree of N photos (symlinks to the corpus's COCO-Stuff photos, their label maps
mirrored) and runs `encode_tree` on it. The machine is shared, so every speed is also a
ratio against the `--workers 1` local run of the same invocation, each run records the load
average, and local runs also give CPU seconds per file (less sensitive to the load). The
RSS run encodes a separate tree of M files with 2 workers, sampling the driver's and the
workers' RSS.
Usage: python bench/archive.py [N] [--ray] [--rss M] (defaults: N = 2000, no Ray, M = 10000; 0 skips)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

from _common import CORPUS, markdown_table, write_result

import sgcformat.codec
from sgcformat import maps
from sgcformat.archive import encode_tree
from sgcformat.archive.encoder import EncodeOptions, encode_chunk
from sgcformat.archive.items import Task
from sgcformat.coding import colors, labels

VOCAB = "coco-stuff-182"


def build(root: Path, n: int) -> tuple[Path, Path]:
    photos = sorted((CORPUS / "seg" / "coco_stuff").glob("*.jpg"))
    src, label_dir = root / "src", root / "labels"
    for i in range(n):
        photo = photos[i % len(photos)]
        folder = f"d{i // 500:03d}"
        (src / folder).mkdir(parents=True, exist_ok=True)
        (label_dir / folder).mkdir(parents=True, exist_ok=True)
        (src / folder / f"{i:06d}.jpg").symlink_to(photo)
        (label_dir / folder / f"{i:06d}.png").symlink_to(photo.with_name(photo.stem + ".label.png"))
    return src, label_dir


def cpu_seconds() -> float:
    """CPU time of this process, its finished children (the pool's workers, once joined) and its
    live descendants (Ray's GCS, raylet and workers), so both engines pay for all they run."""
    import psutil

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system
    return total


def timed_encode(src: Path, label_dir: Path, dest: Path, **kw) -> tuple[float, float, float, object]:
    """(wall s, CPU s, 1-minute load average before, summary) of one encode run."""
    load = os.getloadavg()[0]
    t, c = time.perf_counter(), cpu_seconds()
    summary = encode_tree(src, dest, labels_dir=label_dir, vocab=VOCAB, **kw)
    return time.perf_counter() - t, cpu_seconds() - c, load, summary


@contextlib.contextmanager
def stage_clock(costs: dict[str, float], clock):
    """Time the codec's map extraction and coding calls by wrapping the module functions it calls."""
    targets = [(maps, "label_map", "maps: label grid"), (maps, "color_map", "maps: colour grid"),
               (labels, "encode", "coding: labels"), (colors, "encode", "coding: colours"),
               (sgcformat.codec, "label_ids", "label values -> ids")]
    saved = [(module, name, getattr(module, name)) for module, name, _ in targets]

    def wrap(fn, key):
        def timed(*args, **kw):
            t = clock()
            try:
                return fn(*args, **kw)
            finally:
                costs[key] = costs.get(key, 0.0) + clock() - t
        return timed

    for (module, name, key), (_, _, fn) in zip(targets, saved, strict=True):
        setattr(module, name, wrap(fn, key))
    try:
        yield
    finally:
        for module, name, fn in saved:
            setattr(module, name, fn)


def stage_costs(tasks: list[Task], clock) -> dict[str, float]:
    """Seconds per file of each stage and codec part, on ``clock`` (the stages' own clock swapped)."""
    inner: dict[str, float] = {}
    modules = (sys.modules["sgcformat.archive.items"], sys.modules["sgcformat.archive.encoder"])
    saved = [m.time for m in modules]
    for m in modules:
        m.time = types.SimpleNamespace(perf_counter=clock)
    try:
        with stage_clock(inner, clock):
            items = encode_chunk(EncodeOptions(vocab=VOCAB), tasks)
    finally:
        for m, t in zip(modules, saved, strict=True):
            m.time = t
    costs: dict[str, float] = {}
    for item in items:
        for k, v in item.timings.items():
            costs[k] = costs.get(k, 0.0) + v
    encode = costs.pop("encode")
    costs.update({f"encode: {k}": v for k, v in inner.items()})
    costs["encode: rest (settings, container)"] = encode - sum(inner.values())
    costs["total"] = encode + sum(v for k, v in costs.items() if not k.startswith("encode"))
    return {k: v / len(items) for k, v in costs.items()}


def cost_breakdown(src: Path, label_dir: Path, out: Path, n: int = 200) -> list[list]:
    """Per stage: wall ms (what the load leaves us) and CPU ms (this thread's own time)."""
    paths = sorted(src.rglob("*.jpg"))[:n]
    tasks = [Task(p.relative_to(src).as_posix(), str(p), str(out / f"{i}.sgc"),
                  str(label_dir / p.relative_to(src).with_suffix(".png"))) for i, p in enumerate(paths)]
    out.mkdir()
    wall = stage_costs(tasks, time.perf_counter)
    cpu = stage_costs(tasks, time.thread_time)
    return [[k, f"{1000 * wall[k]:.2f}", f"{1000 * cpu[k]:.2f}"] for k in wall]


def rss_run(root: Path, m: int) -> dict:
    """Encode ``m`` files with 2 workers while a thread samples RSS of the driver and its workers."""
    import psutil

    src, label_dir = build(root / "rss", m)
    me = psutil.Process()
    samples: list[tuple[float, int, int]] = []  # (time, driver RSS, largest worker RSS)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            workers = []
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    workers.append(child.memory_info().rss)
            samples.append((time.perf_counter(), me.memory_info().rss, max(workers, default=0)))
            stop.wait(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    wall, _, load, summary = timed_encode(src, label_dir, root / "rss-out", workers=2)
    stop.set()
    thread.join()
    assert summary.done == m, summary.text()
    t0 = samples[0][0]
    warm = [s for s in samples if s[0] - t0 >= 0.1 * wall] or samples  # after the first 10 % of the run
    result = {"files": m, "seconds": wall, "load": load}
    for index, who in ((1, "driver"), (2, "worker")):
        base, peak = warm[0][index], max(s[index] for s in warm)
        result[who] = {"rss_at_10_percent_mb": base / 1e6, "peak_mb": peak / 1e6,
                       "growth_mb": (peak - base) / 1e6, "end_mb": warm[-1][index] / 1e6}
    return result


def speed_runs(src: Path, label_dir: Path, root: Path, n: int, mb: float, engines: list[str]) -> list[dict]:
    """Fresh encodes of the tree, one per (engine, workers); Ray is started before its clock starts."""
    runs = []
    configs = [("local", 1, ""), ("local", 2, "")] if "local" in engines else []
    configs += [("ray", 2, ""), ("ray", 2, "warm")] if "ray" in engines else []
    for engine, workers, warm in configs:
        startup = None
        if engine == "ray" and not warm:
            import logging

            import ray

            t = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            startup = time.perf_counter() - t
        dest = root / f"out-{engine}-{workers}{warm}"
        wall, cpu, load, s = timed_encode(src, label_dir, dest, workers=workers, engine=engine)
        assert s.done == n, s.text()
        runs.append({"engine": engine, "workers": workers, "warm": bool(warm), "seconds": wall,
                     "files_per_s": n / wall, "mb_per_s": mb / wall, "cpu_s": cpu, "load": load,
                     "ray_startup_s": startup})
    return runs


def resume_run(src: Path, label_dir: Path, dest: Path, n: int) -> dict:
    """The best of three re-runs over a finished tree (all of it checked, nothing redone)."""
    wall, cpu, load, s = min((timed_encode(src, label_dir, dest) for _ in range(3)), key=lambda r: r[0])
    assert s.already_done == n, s.text()
    return {"seconds": wall, "cpu_s": cpu, "files_per_s": n / wall, "files_per_cpu_s": n / cpu, "load": load}


def report(data: dict) -> str:
    n, runs, resume, rss = data["files"], data["runs"], data["resume"], data["rss"]
    ref = runs[0]
    rows = [[f"encode {r['engine']} --workers {r['workers']}" + (" again, warm workers" if r["warm"] else ""),
             n, f"{r['files_per_s']:.1f}", f"{r['mb_per_s']:.2f}", f"{ref['seconds'] / r['seconds']:.2f}",
             f"{1000 * r['cpu_s'] / n:.1f}", f"{r['load']:.1f}"] for r in runs]
    rows.append(["resume of the finished tree (best of 3)", n, f"{resume['files_per_s']:.0f}", "-",
                 f"{ref['seconds'] / resume['seconds']:.1f}", f"{1000 * resume['cpu_s'] / n:.3f}",
                 f"{resume['load']:.1f}"])
    parts = [
        f"Tree: {n} photos ({data['source_mb']:.0f} MB, symlinks to the 17 COCO-Stuff corpus photos, "
        "~640x480) with given label maps. The machine is shared with other jobs (load = 1-minute load "
        "average before each run, on 2 cores): compare the same-run ratios, and the CPU time per file "
        "(pool workers and Ray's processes included).",
        "",
        markdown_table(["run", "files", "files/s", "MB/s", "speed vs workers 1", "CPU ms per file", "load"],
                       rows),
        "",
        f"Resume: {resume['files_per_s']:.0f} files/s checked ({resume['files_per_cpu_s']:.0f} per CPU "
        f"second), {100 * resume['seconds'] / ref['seconds']:.1f} % of the fresh --workers 1 run. "
        "CPU-bound capacity of 2 idle cores at the --workers 1 CPU cost: "
        f"{2 * n / ref['cpu_s']:.0f} files/s.",
    ]
    by = {(r["engine"], r["workers"], r["warm"]): r for r in runs}
    if ("ray", 2, False) in by:
        local2 = by["local", 2, False]
        startup = by["ray", 2, False]["ray_startup_s"]
        for warm, what in ((False, "first run, its workers starting"), (True, "second run, warm workers")):
            ray_run = by["ray", 2, warm]
            parts.append(f"Ray vs local, both 2 workers, same invocation ({what}): "
                         f"{ray_run['files_per_s'] / local2['files_per_s']:.2f}x in files/s, "
                         f"{local2['cpu_s'] / ray_run['cpu_s']:.2f}x in files per CPU second (Ray's own "
                         "processes included).")
        parts.append(f"Ray's start-up ({startup:.1f} s) is not in these runs.")
    parts += ["", f"Cost per file (ms, one process, {data['cost_files']} files): read = source bytes + "
              "sha256, decode = JPEG decode + EXIF + orientation, labels = label PNG, encode = the codec "
              "(its parts below), write = atomic write without fsync (the driver fsyncs each batch before "
              "its rows commit).", "",
              markdown_table(["stage", "wall ms per file", "CPU ms per file"], data["cost_ms"])]
    if rss:
        parts += ["", f"RSS over {rss['files']} files (--workers 2, {rss['seconds']:.0f} s, load "
                  f"{rss['load']:.1f}), sampled every 0.5 s; growth = peak after the first 10 % of the run "
                  "minus the RSS then:", "",
                  markdown_table(["process", "RSS at 10 % (MB)", "peak (MB)", "end (MB)", "growth (MB)"],
                                 [[who] + [f"{rss[who][k]:.1f}" for k in
                                           ("rss_at_10_percent_mb", "peak_mb", "end_mb", "growth_mb")]
                                  for who in ("driver", "worker")])]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=2000, help="photos in the speed tree")
    parser.add_argument("--ray", action="store_true", help="also run the Ray engine (2 workers), last")
    parser.add_argument("--rss", type=int, default=10000, help="files in the RSS run (0 skips it)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sgc-archive-bench-"))
    try:
        src, label_dir = build(root, args.n)
        mb = sum(p.stat().st_size for p in src.rglob("*.jpg")) / 1e6
        data = {"files": args.n, "source_mb": mb}
        data["runs"] = speed_runs(src, label_dir, root, args.n, mb, ["local"])
        data["resume"] = resume_run(src, label_dir, root / "out-local-1", args.n)
        costs = cost_breakdown(src, label_dir, root / "cost")
        data["cost_files"], data["cost_ms"] = min(200, args.n), costs
        data["rss"] = rss_run(root, args.rss) if args.rss else None
        if args.ray:  # last: Ray stays loaded in this process
            data["runs"] += speed_runs(src, label_dir, root, args.n, mb, ["ray"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    write_result("archive", "Archive benchmark", report(data), data)


if __name__ == "__main__":
    main()
