"""The single long-lived decode thread.

Generative decodes take seconds and hold a model in (GPU) memory, so exactly one
thread runs them, one at a time: interactive requests (the sample the user is
looking at, an encode) first, then generative thumbnails — visible ones first.
A thumbnail decode is pre-empted (cancelled and re-queued) when an interactive
request arrives, so a click never waits behind the background work.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PyQt6.QtCore import Qt, QThread, pyqtSignal
from PyQt6.QtGui import QImage

import sgcformat

from . import imaging


@dataclass
class _Job:
    id: int
    #: ``"sample"``: decode ``path`` with ``seed``; ``"task"``: call ``fn(cancel)``.
    kind: str
    path: Path | None = None
    seed: int | None = None
    fn: Callable[[threading.Event], object] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Thumb:
    path: str
    cancel: threading.Event = field(default_factory=threading.Event)
    #: Cancelled to make way for an interactive job: goes back to the queue.
    preempted: bool = False


class DecodeWorker(QThread):
    """Runs decodes and encodes off the GUI thread; talks back through signals only.

    ``finished(job_id, result, seconds)`` carries a :class:`QImage` for a sample and
    whatever the callable returned for a task; ``failed(job_id, kind, message)`` has
    kind ``"cancelled"``, ``"missing-model"`` or ``"error"``.
    """

    jobStarted = pyqtSignal(int)
    progress = pyqtSignal(int, int, int)  # job id, step, total
    finished = pyqtSignal(int, object, float)
    failed = pyqtSignal(int, str, str)
    thumbnailReady = pyqtSignal(str, QImage)  # path, generative thumbnail
    thumbnailFailed = pyqtSignal(str, str)  # path, message
    modelMissing = pyqtSignal(str, str)  # profile, message

    def __init__(self, thumbnail_size: int = 256, steps: int | None = None, parent=None):
        super().__init__(parent)
        self.thumbnail_size = thumbnail_size
        #: Sampling steps of every decode; ``None``: the file's / profile's default.
        self.steps = steps
        #: Profile of every decode; ``None``: each file's own (set from the Sample menu).
        self.profile: str | None = None
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._jobs: deque[_Job] = deque()
        self._thumbs: list[str] = []  # pending generative thumbnails, in folder order
        self._visible: list[str] = []
        self._current: _Job | None = None
        self._current_thumb: _Thumb | None = None
        self._missing_profiles: set[str] = set()
        self._stopping = False

    # --- requests from the GUI thread ------------------------------------------------------

    def decode(self, path: str | Path, seed: int | None) -> int:
        """Queue a generative decode of ``path``; returns the job id used in the signals."""
        return self._submit(_Job(next(self._ids), "sample", path=Path(path), seed=seed))

    def run_task(self, fn: Callable[[threading.Event], object]) -> int:
        """Queue ``fn(cancel_event)`` (e.g. an encode) to run on the model thread."""
        return self._submit(_Job(next(self._ids), "task", fn=fn))

    def cancel(self, job_id: int) -> None:
        """Cancel a queued or running job; a running decode stops at its next step."""
        with self._cond:
            for job in list(self._jobs):
                if job.id == job_id:
                    self._jobs.remove(job)
                    self.failed.emit(job_id, "cancelled", "cancelled")
                    return
            if self._current is not None and self._current.id == job_id:
                self._current.cancel.set()

    def set_thumbnails(self, paths: Iterable[str | Path]) -> None:
        """Replace the generative-thumbnail queue (a new folder cancels the old one's work)."""
        with self._cond:
            self._thumbs = [str(p) for p in paths]
            if self._current_thumb is not None and self._current_thumb.path not in self._thumbs:
                self._current_thumb.cancel.set()
            self._cond.notify()

    def add_thumbnails(self, paths: Iterable[str | Path]) -> None:
        with self._cond:
            known = set(self._thumbs)
            self._thumbs += [str(p) for p in paths if str(p) not in known]
            self._cond.notify()

    def set_visible(self, paths: Iterable[str | Path]) -> None:
        """Thumbnails of these files are decoded before the others (called on scroll)."""
        with self._cond:
            self._visible = [str(p) for p in paths]

    def queued_thumbnails(self) -> list[str]:
        with self._cond:
            return list(self._thumbs)

    def pending_thumbnails(self) -> int:
        with self._cond:
            return len(self._thumbs)

    def stop(self) -> None:
        """Cancel everything and end the thread (blocks until it has)."""
        with self._cond:
            self._stopping = True
            self._jobs.clear()
            self._thumbs.clear()
            if self._current is not None:
                self._current.cancel.set()
            if self._current_thumb is not None:
                self._current_thumb.cancel.set()
            self._cond.notify()
        self.wait()

    def _submit(self, job: _Job) -> int:
        with self._cond:
            self._jobs.append(job)
            if self._current_thumb is not None:
                self._current_thumb.preempted = True
                self._current_thumb.cancel.set()
            self._cond.notify()
        return job.id

    # --- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._jobs and not self._thumbs:
                    self._cond.wait()
                if self._stopping:
                    return
                if self._jobs:
                    job, thumb = self._jobs.popleft(), None
                    self._current = job
                else:
                    job, thumb = None, _Thumb(self._next_thumb())
                    self._current_thumb = thumb
            if job is not None:
                self._run_job(job)
                with self._cond:
                    self._current = None
            else:
                self._run_thumb(thumb)
                with self._cond:
                    self._current_thumb = None

    def _next_thumb(self) -> str:
        visible = set(self._visible)
        for i, path in enumerate(self._thumbs):
            if path in visible:
                return self._thumbs.pop(i)
        return self._thumbs.pop(0)

    def _run_job(self, job: _Job) -> None:
        self.jobStarted.emit(job.id)
        start = time.perf_counter()
        try:
            if job.kind == "sample":
                result = imaging.decode_sample(
                    job.path, job.seed, steps=self.steps, profile=self.profile, cancel=job.cancel,
                    callback=lambda step, total: self.progress.emit(job.id, step, total),
                )
            else:
                result = job.fn(job.cancel)
        except sgcformat.DecodeCancelled:
            self.failed.emit(job.id, "cancelled", "cancelled")
        except sgcformat.ModelNotFoundError as exc:
            self.failed.emit(job.id, "missing-model", str(exc))
        except Exception as exc:  # any failure is reported to the user, never kills the thread
            self.failed.emit(job.id, "error", _describe(exc))
        else:
            if job.cancel.is_set():
                self.failed.emit(job.id, "cancelled", "cancelled")
            else:
                self.finished.emit(job.id, result, time.perf_counter() - start)

    def _run_thumb(self, thumb: _Thumb) -> None:
        path = thumb.path
        try:
            profile = self.profile or sgcformat.read(path).profile
            if profile in self._missing_profiles:
                return
            image = imaging.decode_sample(path, None, steps=self.steps, profile=self.profile,
                                          cancel=thumb.cancel)
        except sgcformat.DecodeCancelled:
            with self._cond:
                if thumb.preempted and not self._stopping and path not in self._thumbs:
                    self._thumbs.insert(0, path)
            return
        except sgcformat.ModelNotFoundError as exc:
            with self._cond:
                self._missing_profiles.add(profile)
            self.modelMissing.emit(profile, str(exc))
            return
        except Exception as exc:
            self.thumbnailFailed.emit(path, _describe(exc))
            return
        size = self.thumbnail_size
        self.thumbnailReady.emit(
            path,
            image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                         Qt.TransformationMode.SmoothTransformation),
        )


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__

