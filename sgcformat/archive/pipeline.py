"""The driver of a run: plan the work against the manifest, feed an engine, record every result.

Shared by encode and decode. The manifest lives here, on the driver, whichever engine does
the work; results are committed in batches (every :data:`COMMIT_EVERY` rows or
:data:`COMMIT_SECONDS`), each after its outputs were made durable (:mod:`.durable`), so a
crash loses at most the uncommitted tail, which the next run redoes. Sources with an ``ok``
row whose output still exists with the recorded size are never touched again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SgcError
from . import durable, tree
from .manifest import Manifest, Row
from .summary import Progress, Summary

COMMIT_EVERY = 256
COMMIT_SECONDS = 1.0


class ArchiveStopped(SgcError, OSError):
    """The run cannot go on (disk full, read-only destination); re-run to resume once fixed."""


@dataclass
class Plan:
    """Work left for a run: tasks to run, rows already known (walk errors, collisions)."""

    tasks: list = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    already_done: int = 0
    files: int = 0


def is_done(dest: str, record: tuple | None) -> bool:
    """An ``ok`` (or ``skipped``) row whose output, if any, exists with the recorded size.

    One ``stat`` of a string path per source: this check is all a resume does, per file.
    """
    if record is None or record[0] == "failed":
        return False
    status, output, nbytes = record
    if status == "skipped":
        return True
    try:
        return os.stat(os.path.join(dest, output)).st_size == nbytes
    except (OSError, TypeError):
        return False


def plan(entries: Iterable[tree.Entry], known: dict, out_dir: Path,
         make_task: Callable[[str], object], output_of: Callable[[str], str]) -> Plan:
    """Split the walk into done, refused (walk errors, output collisions) and to-do sources."""
    result = Plan()
    claimed: dict[str, str] = {}
    dest = str(out_dir)
    for entry in entries:
        result.files += 1
        if entry.error is not None:
            status = "skipped" if entry.error.startswith("skipped") else "failed"
            result.rows.append(Row(entry.rel, status, error=entry.error))
            continue
        out = output_of(entry.rel)
        first = claimed.setdefault(tree.collision_key(out), entry.rel)
        if first != entry.rel:
            result.rows.append(Row(entry.rel, "failed", error=f"output {out} would collide with "
                                                              f"the output of {first}"))
            continue
        record = known.get(entry.rel)
        if is_done(dest, record) and (record[0] == "skipped" or record[1] == out):
            result.already_done += 1
        else:
            result.tasks.append(make_task(entry.rel))
    return result


def drive(manifest: Manifest, the_plan: Plan, results: Iterator, summary: Summary,
          progress: bool, start: float) -> Summary:
    """Record ``results`` (items with ``row`` or ``fatal``) as they come; fill in ``summary``.

    ``start`` is the run's ``perf_counter()`` start, before the walk.
    """
    tree.remove_stale_temporaries({Path(t.out).parent for t in the_plan.tasks})
    bar = Progress(len(the_plan.tasks), progress, f"sgc archive {summary.command}")
    pending, written = list(the_plan.rows), []
    last_commit = time.monotonic()

    def commit() -> None:
        """Outputs durable first, then their rows: an ``ok`` row never outlives its bytes."""
        try:
            durable.sync(written)
        except OSError as exc:
            raise ArchiveStopped(f"cannot make the outputs durable ({exc}); the run stopped, "
                                 "re-run it to resume") from None
        manifest.record(pending)
        pending.clear()
        written.clear()

    try:
        for item in results:
            if item.fatal is not None:
                raise ArchiveStopped(f"{item.fatal}; the run stopped, re-run it to resume")
            pending.append(item.row)
            written.extend(item.written)
            _count(summary, item.row)
            bar.update(item.row.source_bytes, item.row.sgc_bytes if item.row.status == "ok" else None)
            if len(pending) >= COMMIT_EVERY or time.monotonic() - last_commit > COMMIT_SECONDS:
                commit()
                last_commit = time.monotonic()
    finally:
        bar.close()
        for row in the_plan.rows:
            _count(summary, row)
        commit()
        summary.seconds = time.perf_counter() - start
        totals = manifest.totals()
        summary.source_bytes, summary.sgc_bytes = totals["source_bytes"], totals["sgc_bytes"]
        summary.failures = totals["failures"]
        manifest.finish_run()
    return summary


def _count(summary: Summary, row: Row) -> None:
    if row.status == "ok":
        summary.done += 1
    elif row.status == "failed":
        summary.failed += 1
    else:
        summary.skipped += 1


def dry_summary(command: str, the_plan: Plan, manifest_totals: dict | None) -> Summary:
    """What a run would do, without reading a single source."""
    summary = Summary(command, files=the_plan.files, done=len(the_plan.tasks),
                      already_done=the_plan.already_done, dry_run=True)
    for row in the_plan.rows:
        _count(summary, row)
    if manifest_totals:
        summary.source_bytes = manifest_totals["source_bytes"]
        summary.sgc_bytes = manifest_totals["sgc_bytes"]
    summary.failures = [{"source": r.source, "error": r.error} for r in the_plan.rows if r.status == "failed"]
    return summary
