"""``DEST/manifest.sqlite``: what an archive run did to every source, as a real database.

One row per source (``files``), one row per run with its settings (``runs``). SQLite in WAL
mode with every batch of results written in one transaction: a ``kill -9`` at any moment
leaves the rows of the last committed batch and nothing half-written, and the next run
redoes whatever has no ``ok`` row. Users query it with the ``sqlite3`` shell
(docs/archive.md has examples).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

NAME = "manifest.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),
    output TEXT,
    source_bytes INTEGER,
    sgc_bytes INTEGER,
    source_sha256 TEXT,
    error TEXT,
    seconds REAL,
    run INTEGER REFERENCES runs(id)
);
"""


@dataclass(frozen=True)
class Row:
    """One source's outcome, as stored in ``files`` (``sgc_bytes`` = output bytes for decodes)."""

    source: str
    status: str
    output: str | None = None
    source_bytes: int | None = None
    sgc_bytes: int | None = None
    source_sha256: str | None = None
    error: str | None = None
    seconds: float | None = None


_COLUMNS = ("source", "status", "output", "source_bytes", "sgc_bytes", "source_sha256", "error", "seconds")


class Manifest:
    """The open manifest of one archive folder; only the driver process writes it."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / NAME
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable up to the last checkpoint
        self.db.executescript(_SCHEMA)
        self.run_id: int | None = None

    def start_run(self, command: str, settings: dict) -> int:
        cur = self.db.execute("INSERT INTO runs (command, started, settings) VALUES (?, ?, ?)",
                              (command, time.time(), json.dumps(settings, sort_keys=True, default=str)))
        self.run_id = cur.lastrowid
        return self.run_id

    def finish_run(self) -> None:
        self.db.execute("UPDATE runs SET finished = ? WHERE id = ?", (time.time(), self.run_id))

    def done(self) -> dict[str, tuple[str, str | None, int | None]]:
        """source → (status, output, sgc_bytes) of every recorded source."""
        return {s: (st, o, n) for s, st, o, n in
                self.db.execute("SELECT source, status, output, sgc_bytes FROM files")}

    def record(self, rows: Iterable[Row]) -> None:
        """Insert or replace ``rows`` in one transaction: all of them land, or none."""
        values = [(*(getattr(r, c) for c in _COLUMNS), self.run_id) for r in rows]
        if not values:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                f"INSERT OR REPLACE INTO files ({', '.join(_COLUMNS)}, run) "
                f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})", values)

    def totals(self) -> dict:
        """Counts and byte totals over all rows, plus the failures."""
        counts = dict(self.db.execute("SELECT status, COUNT(*) FROM files GROUP BY status"))
        source_bytes, sgc_bytes = self.db.execute(
            "SELECT COALESCE(SUM(source_bytes), 0), COALESCE(SUM(sgc_bytes), 0) FROM files "
            "WHERE status = 'ok'").fetchone()
        failures = [{"source": s, "error": e} for s, e in self.db.execute(
            "SELECT source, error FROM files WHERE status = 'failed' ORDER BY source")]
        return {
            "files": sum(counts.values()),
            "ok": counts.get("ok", 0),
            "failed": counts.get("failed", 0),
            "skipped": counts.get("skipped", 0),
            "source_bytes": source_bytes,
            "sgc_bytes": sgc_bytes,
            "ratio": source_bytes / sgc_bytes if sgc_bytes else None,
            "failures": failures,
        }

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
