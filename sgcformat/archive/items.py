"""What flows through an archive pipeline: tasks, items, and how a step's failure is recorded.

A failed item carries its manifest :class:`Row` and passes later stages untouched, so one
bad file never stops a run; only a write error no later file can escape (disk full,
read-only destination) marks the item ``fatal``, which stops the run.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field
from typing import Any

from .manifest import Row

FATAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


@dataclass(frozen=True)
class Task:
    """One source: relative name, absolute source path, output path, label map path (or None)."""

    rel: str
    src: str
    out: str
    label: str | None = None


@dataclass
class Item:
    """A source on its way through the stages; ``data`` holds what one stage hands the next."""

    task: Task
    row: Row | None = None  # set once the item is finished or failed
    fatal: str | None = None  # a write error that stops the run
    data: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    nbytes: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)  # outputs to make durable before the row commits

    def live(self) -> bool:
        return self.row is None and self.fatal is None

    def timed(self, name: str, start: float) -> float:
        """Add the time since ``start`` to the cost ``name``; return now."""
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - start
        return now


class Failed(Exception):
    """A per-file failure with the status it gets (``failed`` or ``skipped``)."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def guarded(item: Item, step, *args) -> Item:
    """Run one step on a live item; turn its failure into the item's row (or a fatal stop)."""
    if not item.live():
        return item
    try:
        step(item, *args)
    except Failed as exc:
        item.row = _row(item, exc.status, str(exc))
    except OSError as exc:
        if exc.errno in FATAL_ERRNOS:
            item.fatal = f"{os.strerror(exc.errno)} writing {item.task.out}"
        else:
            item.row = _row(item, "failed", one_line(exc))
    except Exception as exc:  # any other per-file problem is recorded, never fatal to the run
        item.row = _row(item, "failed", one_line(exc))
    if item.row is not None:
        item.data.clear()
    return item


def _row(item: Item, status: str, error: str) -> Row:
    return Row(item.task.rel, status, None, item.nbytes or None, None, item.sha256 or None, error,
               sum(item.timings.values()))


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, for the manifest's ``error`` column."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
