"""Bad input and faults: each is recorded for its file and never stops (or corrupts) the run."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat

import numpy as np
import pytest
from conftest import tree_hashes
from PIL import Image

import sgcformat
from sgcformat.archive import ArchiveStopped, encode_tree
from sgcformat.archive import durable as durable_module
from sgcformat.archive import tree as tree_module
from sgcformat.archive.manifest import Manifest


def rows(dest) -> dict[str, tuple[str, str | None]]:
    db = sqlite3.connect(dest / "manifest.sqlite")
    return {s: (st, e) for s, st, e in db.execute("SELECT source, status, error FROM files")}


def run(src, labels, dest, **kw):
    return encode_tree(src, dest, labels_dir=labels, vocab="coco-stuff-182", **kw)


def test_bad_files_are_recorded_and_the_rest_encoded(photo_tree, tmp_path):
    src, labels = photo_tree
    good = (src / "trip" / "p1.jpg").read_bytes()
    (src / "empty.jpg").write_bytes(b"")
    (src / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (src / "readme.txt").write_text("hello")
    (src / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (src / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20)
    for name in ("empty", "truncated", "garbage"):
        Image.new("L", (96, 64)).save(labels / f"{name}.png")
    before = tree_hashes(src)
    summary = run(src, labels, tmp_path / "out")
    got = rows(tmp_path / "out")
    assert got["empty.jpg"] == ("failed", "empty file")
    assert got["truncated.jpg"][0] == "failed" and "corrupt image" in got["truncated.jpg"][1]
    assert got["garbage.png"][0] == "failed"
    assert got["phone.heic"] == ("failed", "Pillow cannot open .heic files without pillow-heif")
    assert got["readme.txt"] == ("skipped", "not an image")
    assert (summary.done, summary.failed, summary.skipped) == (6, 4, 1)
    assert tree_hashes(src) == before
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_label_map_problems_fail_their_file_only(photo_tree, tmp_path):
    src, labels = photo_tree
    (labels / "trip" / "p1.png").unlink()
    Image.new("L", (30, 90)).save(labels / "trip" / "p3.png")  # wrong aspect
    bad = np.full((64, 96), 200, np.uint8)  # 200: no coco-stuff-182 class, not 255 either
    Image.fromarray(bad).save(labels / "trip" / "p5.png")
    summary = run(src, labels, tmp_path / "out")
    got = rows(tmp_path / "out")
    assert got["trip/p1.jpg"] == ("failed", "label map missing")
    assert got["trip/p3.png"][0] == "failed" and "aspect" in got["trip/p3.png"][1]
    assert got["trip/p5.jpg"][0] == "failed" and "200" in got["trip/p5.jpg"][1]
    assert summary.done == 3


def test_unreadable_folder_is_a_failure_not_a_crash(photo_tree, tmp_path, monkeypatch):
    # Tests run as root here, where chmod 000 still reads: simulate the denial at os.scandir.
    src, labels = photo_tree
    real = os.scandir

    def scandir(path):
        if str(path).endswith("trip"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(tree_module.os, "scandir", scandir)
    summary = run(src, labels, tmp_path / "out")
    assert rows(tmp_path / "out")["trip/"] == ("failed", "cannot read folder: Permission denied")
    assert (summary.done, summary.failed) == (3, 1)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 folder anyway")
def test_unreadable_folder_for_real(photo_tree, tmp_path):
    src, labels = photo_tree
    (src / "trip").chmod(0)
    try:
        summary = run(src, labels, tmp_path / "out")
    finally:
        (src / "trip").chmod(stat.S_IRWXU)
    assert summary.failed == 1


def test_symlink_loop_ends_the_descent(photo_tree, tmp_path):
    src, labels = photo_tree
    (src / "trip" / "loop").symlink_to(src, target_is_directory=True)
    summary = run(src, labels, tmp_path / "out")
    got = rows(tmp_path / "out")
    assert got["trip/loop/"][0] == "skipped" and "symlink loop" in got["trip/loop/"][1]
    assert summary.done == 6


def test_file_that_disappears_mid_run(photo_tree, tmp_path, monkeypatch):
    src, labels = photo_tree
    real = tree_module.walk

    def walk(root):
        yield from real(root)
        yield tree_module.Entry("trip/gone.jpg")  # listed, then deleted before it was read

    monkeypatch.setattr(tree_module, "walk", walk)
    summary = run(src, labels, tmp_path / "out")
    assert rows(tmp_path / "out")["trip/gone.jpg"] == ("failed", "source disappeared before it was read")
    assert summary.done == 6


def test_two_sources_for_one_output(photo_tree, tmp_path):
    src, labels = photo_tree
    (src / "trip" / "P1.JPG").write_bytes((src / "trip" / "p1.jpg").read_bytes())
    (labels / "trip" / "P1.png").write_bytes((labels / "trip" / "p1.png").read_bytes())
    summary = run(src, labels, tmp_path / "out")
    status, error = rows(tmp_path / "out")["trip/p1.jpg"]
    assert status == "failed" and "collide" in error and "trip/P1.JPG" in error
    assert summary.done == 6


def test_disk_full_stops_the_run_and_resumes(photo_tree, tmp_path, monkeypatch):
    src, labels = photo_tree
    real = durable_module.write
    writes = []

    def write(path, data):
        if len(writes) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        writes.append(path)
        real(path, data)

    monkeypatch.setattr(durable_module, "write", write)
    dest = tmp_path / "out"
    with pytest.raises(ArchiveStopped, match="No space left on device"):
        run(src, labels, dest)
    got = rows(dest)
    assert sorted(got) == sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()
                                 and (dest / (p.relative_to(src).as_posix() + ".sgc")).exists())
    assert all(v == ("ok", None) for v in got.values()) and len(got) == 2
    monkeypatch.setattr(durable_module, "write", real)
    summary = run(src, labels, dest)
    assert (summary.done, summary.already_done) == (4, 2)


def test_outputs_follow_the_umask(photo_tree, tmp_path):
    src, labels = photo_tree
    old = os.umask(0o027)
    try:
        run(src, labels, tmp_path / "out")
    finally:
        os.umask(old)
    for p in (tmp_path / "out").rglob("*.sgc"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o640
        sgcformat.read(p)


def test_rows_commit_only_after_their_outputs_are_synced(photo_tree, tmp_path, monkeypatch):
    src, labels = photo_tree
    dest = tmp_path / "out"
    synced: set[str] = set()
    real_sync, real_record = durable_module.sync, Manifest.record

    def sync(paths):
        paths = list(paths)
        real_sync(paths)
        synced.update(paths)

    def record(self, rows_):
        rows_ = list(rows_)
        for row in rows_:
            if row.status == "ok":
                assert str(dest / row.output) in synced, f"{row.source} recorded before its output was synced"
        real_record(self, rows_)

    monkeypatch.setattr(durable_module, "sync", sync)
    monkeypatch.setattr(Manifest, "record", record)
    summary = run(src, labels, dest)
    assert summary.done == 6 and len(synced) == 6


def test_a_failed_sync_stops_the_run_without_ok_rows(photo_tree, tmp_path, monkeypatch):
    src, labels = photo_tree

    def sync(paths):
        if list(paths):
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(durable_module, "sync", sync)
    dest = tmp_path / "out"
    with pytest.raises(ArchiveStopped, match="durable"):
        run(src, labels, dest)
    assert all(status != "ok" for status, _ in rows(dest).values())
    monkeypatch.undo()
    summary = run(src, labels, dest)
    assert summary.done == 6


def test_iter_encode_yields_rows_only_for_synced_outputs(photo_tree, tmp_path, monkeypatch):
    from sgcformat.archive import Task, iter_encode

    src, labels = photo_tree
    rels = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    tasks = [Task(rel, str(src / rel), str(tmp_path / f"{i}.sgc"),
                  str(labels / rel.rsplit(".", 1)[0]) + ".png") for i, rel in enumerate(rels)]
    synced: set[str] = set()
    real_sync = durable_module.sync

    def sync(paths):
        paths = list(paths)
        real_sync(paths)
        synced.update(paths)

    monkeypatch.setattr(durable_module, "sync", sync)
    outputs = {t.rel: t.out for t in tasks}
    for row in iter_encode(tasks, with_labels=True, vocab="coco-stuff-182"):
        assert row.status == "ok" and outputs[row.source] in synced
    assert len(synced) == len(tasks) == 6
