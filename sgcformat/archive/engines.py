"""The ``local`` engine: CPU stages in a process pool, model stages in this process, in batches.

A pipeline is a list of stages: ``Cpu(fn)`` runs ``fn(chunk) -> items`` in worker processes
on chunks of items; ``Model(factory)`` builds its model once, here (the single owner of the
GPU), and calls it on exactly ``batch_size`` items at a time (fewer only for the last batch).
The number of tasks read ahead is bounded, so memory stays flat however large the tree.
With ``workers=1`` everything runs inline in this process (no pool to start or feed).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice


@dataclass(frozen=True)
class Cpu:
    """A stage run on chunks of items in worker processes (``fn`` must be picklable)."""

    fn: Callable[[list], list]


@dataclass(frozen=True)
class Model:
    """A stage whose ``factory()`` model is called on batches, in the process that owns it."""

    factory: Callable[[], Callable[[list], list]]


class _Inline(Executor):
    """An executor that runs each call at once, so both modes share one scheduling loop."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def run_local(stages: list, tasks: Iterable, *, workers: int = 1, batch_size: int = 8,
              chunk: int = 8) -> Iterator:
    """Run ``tasks`` through ``stages``; yield finished items as they complete (any order)."""
    if workers > 1:
        executor: Executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    else:
        executor = _Inline()
    with executor:
        yield from _schedule(stages, iter(tasks), executor, max(1, workers), batch_size, chunk)


def _schedule(stages, source: Iterator, executor: Executor, workers: int, batch_size: int,
              chunk: int) -> Iterator:
    models = {i: s.factory() for i, s in enumerate(stages) if isinstance(s, Model)}
    buffers: dict[int, list] = {i: [] for i in models}
    inflight: dict[Future, int] = {}
    finished: list = []
    limit = 2 * workers  # chunks in flight: enough to keep every worker busy, no more
    exhausted = False

    def route(stage: int, items: list) -> None:
        """Hand ``items`` to ``stage``: submit CPU chunks, buffer and run model batches."""
        if stage == len(stages):
            finished.extend(items)
        elif stage in models:
            buffers[stage].extend(items)
            while len(buffers[stage]) >= batch_size:
                batch, buffers[stage][:] = buffers[stage][:batch_size], buffers[stage][batch_size:]
                route(stage + 1, models[stage](batch))
        else:
            for i in range(0, len(items), chunk):
                inflight[executor.submit(stages[stage].fn, items[i:i + chunk])] = stage

    def flush() -> None:
        """At the end of the input, run the partial batch of the first stage nothing feeds."""
        busy = min(inflight.values(), default=len(stages))
        for stage in sorted(buffers):
            if stage < busy and buffers[stage]:
                batch, buffers[stage] = buffers[stage], []
                route(stage + 1, models[stage](batch))
                return

    while True:
        while not exhausted and len(inflight) < limit and sum(map(len, buffers.values())) < 2 * batch_size:
            tasks = list(islice(source, chunk))
            exhausted = len(tasks) < chunk
            if tasks:
                route(0, tasks)
        if finished:
            yield from finished
            finished.clear()
        if inflight:
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for future in done:
                route(inflight.pop(future) + 1, future.result())
        elif exhausted:
            if not any(buffers.values()):
                break
            flush()
