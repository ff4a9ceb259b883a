"""The ``ray`` engine: the same stages as a Ray Data pipeline, for trees one machine cannot finish.

``ray.data`` is built from the task list; each CPU stage is a ``map_batches`` task, each model
stage a ``map_batches`` over an actor class that builds the model once per actor and asks for
``num_gpus=1`` when the cluster has GPUs. Items travel pickled in one binary column, so Arrow
never has to understand them. Results stream back to the driver, which alone writes the
manifest. Actors take a fractional ``num_cpus``: with whole CPUs, on a 2-core machine a pool
of 2 plus the read task waits forever (seen with ray[data] 2.60.0).
"""

from __future__ import annotations

import contextlib
import logging
import pickle
from collections.abc import Callable, Iterable, Iterator

from .engines import Cpu

ACTOR_CPUS = 0.5


class _CpuStage:
    """``fn`` over a batch of pickled items (a picklable callable for ``map_batches``)."""

    def __init__(self, fn: Callable[[list], list]):
        self.fn = fn

    def __call__(self, batch: dict) -> dict:
        out = self.fn([pickle.loads(b) for b in batch["blob"]])
        return {"blob": [pickle.dumps(item) for item in out]}


class _ModelStage:
    """A Ray actor holding one model (built once), run on batches of pickled items."""

    def __init__(self, factory: Callable[[], Callable[[list], list]]):
        self.model = factory()

    def __call__(self, batch: dict) -> dict:
        out = self.model([pickle.loads(b) for b in batch["blob"]])
        return {"blob": [pickle.dumps(item) for item in out]}


def pool_size(resources: dict, workers: int) -> tuple[int, float]:
    """(actors per model stage, GPUs per actor) from what the cluster has free."""
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return gpus, 1.0
    return max(1, min(workers, int(resources.get("CPU", 1) / (2 * ACTOR_CPUS)))), 0.0


def run_ray(stages: list, tasks: Iterable, *, workers: int = 1, batch_size: int = 8, chunk: int = 8,
            address: str | None = None) -> Iterator:
    """Run ``tasks`` through ``stages`` on Ray (``address``: a cluster; default: the running or a
    new local Ray); yield finished items as they stream back."""
    import ray

    if not ray.is_initialized():  # a Ray the caller started keeps the caller's logging
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)
    tasks = list(tasks)
    if not tasks:
        return
    actors, gpus_per_actor = pool_size(ray.available_resources(), workers)
    blocks = min(len(tasks), max(workers, min(len(tasks) // chunk, 4 * workers)))
    with _quiet_data():
        ds = ray.data.from_items([{"blob": pickle.dumps(t)} for t in tasks], override_num_blocks=blocks)
        for stage in stages:
            if isinstance(stage, Cpu):
                ds = ds.map_batches(_CpuStage(stage.fn), batch_size=chunk,
                                    compute=ray.data.TaskPoolStrategy(size=workers))
            else:
                ds = ds.map_batches(_ModelStage, fn_constructor_args=(stage.factory,), batch_size=batch_size,
                                    compute=ray.data.ActorPoolStrategy(size=actors),
                                    num_gpus=gpus_per_actor, num_cpus=ACTOR_CPUS)
        for row in ds.iter_rows():
            yield pickle.loads(row["blob"])


@contextlib.contextmanager
def _quiet_data() -> Iterator[None]:
    """No Ray Data progress bars or INFO lines on our stderr (ours has its own progress bar);
    the caller's settings come back afterwards."""
    from ray.data import DataContext

    context = DataContext.get_current()
    saved = {name: getattr(context, name) for name in _QUIET}
    loggers = {logging.getLogger(name): level for name, level in _LOGGERS.items()}
    levels = {logger: logger.level for logger in loggers}
    try:
        for name, value in _QUIET.items():
            setattr(context, name, value)
        for logger, level in loggers.items():
            logger.setLevel(level)
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        for logger, level in levels.items():
            logger.setLevel(level)


_QUIET = {"enable_progress_bars": False, "enable_operator_progress_bars": False,
          "print_on_execution_start": False, "enable_auto_log_stats": False}
#: Ray Data's INFO lines go; its warnings stay, except the one saying progress bars are off.
_LOGGERS = {"ray.data": logging.WARNING, "ray.data._internal.progress": logging.ERROR}
