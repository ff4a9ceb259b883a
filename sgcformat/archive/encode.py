"""``encode_tree``: a folder of photos → a mirrored folder of ``.sgc`` files and a manifest."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from .. import photo_metadata
from . import durable, tree
from .encoder import EncodeOptions, Segmenter, Task, encode_chunk, finish_chunk, prepare_chunk
from .engines import Cpu, Model, run_local
from .manifest import Manifest, Row
from .pipeline import COMMIT_EVERY, COMMIT_SECONDS, drive, dry_summary, plan
from .summary import Summary

ENGINES = ("local", "ray")


def stages(options: EncodeOptions, with_labels: bool) -> list:
    """The pipeline of an encode: one CPU stage, or CPU → segmenter batches → CPU."""
    if with_labels:
        return [Cpu(partial(encode_chunk, options))]
    return [Cpu(partial(prepare_chunk, options)), Model(partial(Segmenter, options)),
            Cpu(partial(finish_chunk, options))]


def run_engine(engine: str, the_stages: list, tasks: Iterable, *, workers: int, batch_size: int,
               ray_address: str | None = None) -> Iterator:
    """Items out of ``engine`` (``local`` or ``ray``), in completion order."""
    if engine == "local":
        return run_local(the_stages, tasks, workers=workers, batch_size=batch_size)
    if engine == "ray":
        from .ray_engine import run_ray

        return run_ray(the_stages, tasks, workers=workers, batch_size=batch_size, address=ray_address)
    raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")


def iter_encode(tasks: Iterable[Task], *, with_labels: bool, engine: str = "local", workers: int = 1,
                batch_size: int = 8, ray_address: str | None = None, **options) -> Iterator[Row]:
    """Encode caller-chosen (source, output, label map) :class:`Task` s; yield one :class:`Row` each.

    For callers with their own file lists (a database, a queue): no walk and no manifest;
    rows come in completion order, in batches whose outputs were made durable first (so a
    caller that records an ``ok`` row never records bytes a power loss can take back). A
    write that hit a full disk yields a ``failed`` row here: stopping or not is the caller's
    choice.
    """
    opts = EncodeOptions(**options)
    batch: list = []
    last = time.monotonic()
    for item in run_engine(engine, stages(opts, with_labels), tasks, workers=workers,
                           batch_size=batch_size, ray_address=ray_address):
        batch.append(item)
        if len(batch) >= COMMIT_EVERY or time.monotonic() - last > COMMIT_SECONDS:
            yield from _durable_rows(batch)
            batch, last = [], time.monotonic()
    yield from _durable_rows(batch)


def _durable_rows(items: list) -> list[Row]:
    durable.sync(path for item in items for path in item.written)
    return [item.row or Row(item.task.rel, "failed", error=item.fatal) for item in items]


def encode_tree(
    src: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    labels_dir: str | os.PathLike | None = None,
    labels_pattern: str = "{stem}.png",
    vocab: str | None = None,
    profile: str | None = None,
    target_bytes: int | None = None,
    bpp: float | None = None,
    keep_metadata: str = "essential",
    workers: int = 1,
    batch_size: int = 8,
    device: str | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    dry_run: bool = False,
    progress: bool = False,
) -> Summary:
    """Encode every image under ``src`` into ``dest/<relative path>.sgc``; resumable.

    Label maps come from ``labels_dir`` (``<dir>/<relative folder>/<pattern>``, the pattern's
    ``{stem}``/``{name}`` filled from the photo's name; maps must be upright, i.e. match the
    photo after its EXIF orientation is applied) or else from the profile's segmenter, in
    batches of ``batch_size``. Per-file problems are recorded in the manifest and never stop
    the run; a full disk does (:class:`ArchiveStopped`), and re-running resumes.
    """
    start = time.perf_counter()
    src, dest = Path(src), Path(dest)
    tree.check_roots(src, dest)
    if keep_metadata not in photo_metadata.KEEP_CHOICES:
        raise ValueError(f"keep_metadata must be one of {photo_metadata.KEEP_CHOICES}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    if workers < 1 or batch_size < 1:
        raise ValueError("workers and batch size must be at least 1")
    options = EncodeOptions(vocab, profile, target_bytes, bpp, keep_metadata, device)
    if labels_dir is None:
        options.segmenter_profile()  # fail now, not once per file
    labels = None if labels_dir is None else Path(labels_dir)
    entries = list(tree.walk(src))
    entries = _without_label_maps(entries, src, labels, labels_pattern)

    def make_task(rel: str) -> Task:
        return Task(rel, str(src / rel), str(dest / tree.output_rel(rel)),
                    None if labels is None else str(labels / tree.label_rel(rel, labels_pattern)))

    if dry_run:
        known, totals = {}, None
        if (dest / "manifest.sqlite").exists():
            with Manifest(dest) as m:
                known, totals = m.done(), m.totals()
        return dry_summary("encode", plan(entries, known, dest, make_task, tree.output_rel), totals)
    dest.mkdir(parents=True, exist_ok=True)
    with Manifest(dest) as manifest:
        the_plan = plan(entries, manifest.done(), dest, make_task, tree.output_rel)
        manifest.start_run("encode", {
            **dataclasses.asdict(options), "src": str(src.resolve()), "labels_dir": labels_dir,
            "labels_pattern": labels_pattern, "engine": engine, "workers": workers,
            "batch_size": batch_size,
        })
        summary = Summary("encode", files=the_plan.files, already_done=the_plan.already_done)
        results = run_engine(engine, stages(options, labels is not None), the_plan.tasks,
                             workers=workers, batch_size=batch_size, ray_address=ray_address)
        return drive(manifest, the_plan, results, summary, progress, start)


def _without_label_maps(entries: list[tree.Entry], src: Path, labels: Path | None,
                        pattern: str) -> list[tree.Entry]:
    """Label maps kept inside the source tree are inputs, not photos to encode."""
    if labels is None:
        return entries
    s, lab = src.resolve(), labels.resolve()
    if lab != s and s not in lab.parents:
        return entries
    prefix = lab.relative_to(s).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    maps = {prefix + tree.label_rel(e.rel, pattern) for e in entries if e.error is None}
    return [e for e in entries if e.rel not in maps]
