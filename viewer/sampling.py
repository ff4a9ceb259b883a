"""The samples requested for the file on screen: a queue in front of the decode worker.

Every request (the stored seed on opening, each *Resample*, a typed seed) waits its
turn and lands in the strip when done; the widget shows the running decode's
progress and how many wait behind it, and *Cancel* drops them all.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from .worker import DecodeWorker


class SampleQueue(QWidget):
    """Progress bar, queue length and *Cancel* for the generative decodes of one file."""

    sampleReady = pyqtSignal(object, object, float)  # seed, QImage, seconds
    sampleFailed = pyqtSignal(object, str, str)  # seed, kind, message
    #: The queue emptied or filled: the window enables its buttons again.
    busyChanged = pyqtSignal(bool)

    def __init__(self, worker: DecodeWorker, parent: QWidget | None = None):
        super().__init__(parent)
        self._worker = worker
        self._jobs: dict[int, int] = {}  # job id -> seed, in the order requested
        self._running: int | None = None
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFixedWidth(220)
        self.queue_label = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the running and the queued decodes (Esc)")
        self.cancel_button.clicked.connect(self.cancel_all)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.progress, self.queue_label, self.cancel_button):
            layout.addWidget(w)
        self._refresh()
        worker.jobStarted.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)

    def request(self, path: Path, seed: int) -> bool:
        """Queue a decode of ``path`` with ``seed``; ``False`` when that seed already waits."""
        if seed in self._jobs.values():
            return False
        self._jobs[self._worker.decode(path, seed)] = seed
        if len(self._jobs) == 1:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"seed {seed}: waiting…")
            self.busyChanged.emit(True)
        self._refresh()
        return True

    def cancel_all(self) -> None:
        """Cancel the running decode and every queued one."""
        for job in list(self._jobs):
            self._worker.cancel(job)

    def decoding(self) -> bool:
        return bool(self._jobs)

    def queued(self) -> int:
        """Decodes requested and not started yet."""
        return len(self._jobs) - (self._running in self._jobs)

    def seeds(self) -> list[int]:
        """Seeds requested and not done, in order."""
        return list(self._jobs.values())

    def _refresh(self) -> None:
        waiting = self.queued()
        self.queue_label.setText(f"{waiting} queued")
        self.queue_label.setVisible(waiting > 0)
        self.progress.setVisible(self.decoding())
        self.cancel_button.setVisible(self.decoding())

    def _on_started(self, job: int) -> None:
        if job in self._jobs:
            self._running = job
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"seed {self._jobs[job]}: starting…")
            self._refresh()

    def _on_progress(self, job: int, step: int, total: int) -> None:
        if job in self._jobs:
            self.progress.setRange(0, total)
            self.progress.setValue(step)
            self.progress.setFormat(f"seed {self._jobs[job]}: step %v / %m")

    def _on_finished(self, job: int, result: object, seconds: float) -> None:
        if job in self._jobs:
            self.sampleReady.emit(self._end(job), result, seconds)

    def _on_failed(self, job: int, kind: str, message: str) -> None:
        if job in self._jobs:
            self.sampleFailed.emit(self._end(job), kind, message)

    def _end(self, job: int) -> int:
        seed = self._jobs.pop(job)
        if self._running == job:
            self._running = None
        self._refresh()
        if not self._jobs:
            self.busyChanged.emit(False)
        return seed
