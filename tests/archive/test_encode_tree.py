"""The archive contract: mirrored outputs, the manifest, status, resume, dry run, exit codes."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import encode_args, run_sgc, tree_hashes

import sgcformat
from sgcformat.archive import Task, decode_tree, encode_tree, iter_encode


def sources(src):
    return sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())


def test_encode_mirrors_the_tree_and_records_every_source(photo_tree, tmp_path, capsys):
    src, labels = photo_tree
    dest = tmp_path / "out"
    before = tree_hashes(src)
    code, out, err = run_sgc(capsys, *encode_args(src, dest, labels))
    assert code == 0, err
    assert "encoded 6" in out and "ratio" in out
    for rel in sources(src):
        sgc = sgcformat.read(dest / f"{rel}.sgc")
        assert sgc.vocab == "coco-stuff-182" and sgc.size == (96, 64)
    db = sqlite3.connect(dest / "manifest.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = db.execute("SELECT source, status, output, source_bytes, sgc_bytes, source_sha256 FROM files "
                      "ORDER BY source").fetchall()
    assert [r[0] for r in rows] == sources(src)
    for source, status, output, nbytes, sgc_bytes, sha in rows:
        assert status == "ok" and output == f"{source}.sgc"
        assert nbytes == (src / source).stat().st_size == len((src / source).read_bytes())
        assert sgc_bytes == (dest / output).stat().st_size
        assert sha == before[source]
    settings = json.loads(db.execute("SELECT settings FROM runs").fetchone()[0])
    assert settings["vocab"] == "coco-stuff-182" and settings["engine"] == "local"
    assert tree_hashes(src) == before  # sources never modified


def test_status_json_totals(photo_tree, tmp_path, capsys):
    src, labels = photo_tree
    dest = tmp_path / "out"
    (src / "notes.txt").write_text("not a photo")
    (src / "trip" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    assert run_sgc(capsys, *encode_args(src, dest, labels))[0] == 3
    code, out, _ = run_sgc(capsys, "archive", "status", dest, "--json")
    totals = json.loads(out)
    assert code == 3
    assert (totals["files"], totals["ok"], totals["failed"], totals["skipped"]) == (8, 6, 1, 1)
    photos = sum((src / s).stat().st_size for s in sources(src) if s.startswith(("home", "trip/p")))
    assert totals["source_bytes"] == photos
    assert totals["sgc_bytes"] == sum(p.stat().st_size for p in dest.rglob("*.sgc"))
    assert totals["ratio"] == pytest.approx(photos / totals["sgc_bytes"])
    assert [f["source"] for f in totals["failures"]] == ["trip/broken.jpg"]


def test_failures_exit_3_with_the_count_on_stderr(photo_tree, tmp_path, capsys):
    src, labels = photo_tree
    (labels / "trip" / "p1.png").unlink()
    (labels / "trip" / "p3.png").unlink()
    code, _, err = run_sgc(capsys, *encode_args(src, tmp_path / "out", labels))
    assert code == 3
    assert "2 file(s) failed" in err


def test_resume_skips_done_sources_and_redoes_interrupted_ones(photo_tree, tmp_path, capsys):
    src, labels = photo_tree
    dest = tmp_path / "out"
    assert run_sgc(capsys, *encode_args(src, dest, labels))[0] == 0
    outputs = sorted(dest.rglob("*.sgc"))
    stamps = {p: p.stat().st_mtime_ns for p in outputs}
    # an interrupted file: output lost (or never written) after its row... and a row lost
    outputs[0].unlink()
    db = sqlite3.connect(dest / "manifest.sqlite")
    lost = db.execute("SELECT source FROM files ORDER BY source DESC").fetchone()[0]
    with db:
        db.execute("DELETE FROM files WHERE source = ?", (lost,))
    db.close()
    code, out, _ = run_sgc(capsys, *encode_args(src, dest, labels))
    assert code == 0
    assert "encoded 2, already done 4" in out
    for p in outputs[1:]:
        if p.name != f"{lost.rpartition('/')[2]}.sgc":
            assert p.stat().st_mtime_ns == stamps[p]  # a finished output is never rewritten
    assert outputs[0].exists()
    runs = sqlite3.connect(dest / "manifest.sqlite").execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert runs == 2


def test_dry_run_writes_nothing(photo_tree, tmp_path, capsys):
    src, labels = photo_tree
    dest = tmp_path / "out"
    code, out, _ = run_sgc(capsys, *encode_args(src, dest, labels, "--dry-run"))
    assert code == 0 and "would encode 6" in out
    assert not dest.exists()


def test_destination_inside_the_source_is_a_usage_error(photo_tree, capsys):
    src, labels = photo_tree
    code, _, err = run_sgc(capsys, *encode_args(src, src / "archive", labels))
    assert code == 1 and "inside the source" in err
    assert not (src / "archive").exists()
    assert run_sgc(capsys, "archive", "encode", src)[0] == 1  # argparse usage error: 1, not 2


def test_label_maps_inside_the_source_are_not_encoded(tmp_path, make_scene):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(3):
        image, label = make_scene(seed=i)
        image.save(src / f"p{i}.jpg")
        label.save(src / f"p{i}.label.png")
    summary = encode_tree(src, tmp_path / "out", labels_dir=src, labels_pattern="{stem}.label.png",
                          vocab="coco-stuff-182")
    assert (summary.done, summary.failed, summary.files) == (3, 0, 3)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.sgc")) == [f"p{i}.jpg.sgc" for i in range(3)]


def test_decode_preview_restores_the_tree_and_resumes(photo_tree, tmp_path, capsys):
    src, labels = photo_tree
    dest, restored = tmp_path / "out", tmp_path / "restored"
    encode_tree(src, dest, labels_dir=labels, vocab="coco-stuff-182")
    code, out, _ = run_sgc(capsys, "archive", "decode", dest, "-o", restored, "--preview")
    assert code == 0 and "restored 6" in out
    for rel in sources(src):
        from PIL import Image

        with Image.open(restored / rel) as im:  # original name and format
            assert im.size == (96, 64)
            assert im.format == ("PNG" if rel.endswith(".png") else "JPEG")
    again = decode_tree(dest, restored, preview=True)
    assert (again.done, again.already_done) == (0, 6)
    as_png = decode_tree(dest, tmp_path / "png", preview=True, format="png")
    assert as_png.done == 6 and len(list((tmp_path / "png").rglob("*.png"))) == 6


def test_iter_encode_takes_the_callers_own_file_list(photo_tree, tmp_path):
    src, labels = photo_tree
    rels = sources(src)[:3]
    tasks = [Task(rel, str(src / rel), str(tmp_path / f"{i}.sgc"), str(labels / rel.rsplit(".", 1)[0])
                  + ".png") for i, rel in enumerate(rels)]
    rows = list(iter_encode(tasks, with_labels=True, vocab="coco-stuff-182"))
    assert sorted(r.source for r in rows) == rels
    assert all(r.status == "ok" for r in rows)
    assert all(sgcformat.read(tmp_path / f"{i}.sgc").vocab == "coco-stuff-182" for i in range(3))


def test_two_workers_write_the_same_bytes_as_one(photo_tree, tmp_path):
    src, labels = photo_tree
    encode_tree(src, tmp_path / "one", labels_dir=labels, vocab="coco-stuff-182", workers=1)
    encode_tree(src, tmp_path / "two", labels_dir=labels, vocab="coco-stuff-182", workers=2)
    one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*.sgc")}
    two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*.sgc")}
    assert one == two and len(one) == 6
