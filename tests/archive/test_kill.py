"""``kill -9`` in the middle of a run: the restart finishes the tree, every file exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import PATTERN, build_tree

import sgcformat

COUNT = 1000  # long enough to outlast the first commit (1 s or 256 rows) several times


def ok_rows(dest) -> int:
    try:
        db = sqlite3.connect(f"file:{dest / 'manifest.sqlite'}?mode=ro", uri=True, timeout=5)
        return db.execute("SELECT COUNT(*) FROM files WHERE status = 'ok'").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def test_kill_9_then_resume(tmp_path, make_scene):
    src, labels = build_tree(tmp_path, make_scene, count=COUNT, size=(64, 48))
    dest = tmp_path / "out"
    cmd = [sys.executable, "-m", "sgcformat.cli", "archive", "encode", str(src), "-o", str(dest),
           "--labels-dir", str(labels), "--labels-pattern", PATTERN, "--vocab", "coco-stuff-182"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while ok_rows(dest) < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # polling for progress, not a timing check
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed_at = ok_rows(dest)
    assert 10 <= killed_at < COUNT, "the run finished before it could be killed: make it longer"
    db = sqlite3.connect(dest / "manifest.sqlite")
    first = {s: (dest / o).stat().st_mtime_ns for s, o in db.execute(
        "SELECT source, output FROM files WHERE status = 'ok'")}
    db.close()

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    db = sqlite3.connect(dest / "manifest.sqlite")
    rows = db.execute("SELECT source, status, output, run FROM files").fetchall()
    sources = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    assert sorted(r[0] for r in rows) == sources  # each source once (the primary key)
    assert all(r[1] == "ok" for r in rows)
    redone = [r for r in rows if r[3] == 2]
    assert len(redone) == COUNT - killed_at  # the second run did exactly what was left
    for source, _, output, _ in rows:
        sgcformat.read(dest / output)  # every output parses
        if source in first:
            assert (dest / output).stat().st_mtime_ns == first[source]  # and none was rewritten
    outputs = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.sgc"))
    assert outputs == [f"{s}.sgc" for s in sources]
    assert not list(dest.rglob("*.tmp"))  # what the kill left half-written is gone
