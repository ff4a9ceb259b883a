"""The `sgc` command line contract (issue 2, deliverable 9)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sgcformat
from sgcformat.cli import main
from sgcformat.container import read


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sgcformat.cli", *args], capture_output=True, text=True)


@pytest.fixture
def files(tmp_path, scene):
    image, labels = scene
    image.save(tmp_path / "photo.png")
    labels.save(tmp_path / "photo.label.png")
    return tmp_path


def test_encode_info_decode_preview(files, capsys):
    out = files / "photo.sgc"
    assert main(["encode", str(files / "photo.png"), "-o", str(out), "--labels",
                 str(files / "photo.label.png"), "--vocab", "coco-stuff-182", "--seed", "42"]) == 0
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["width"] == 96 and info["height"] == 64 and info["seed"] == 42
    assert info["vocab"] == "coco-stuff-182" and info["profile"] == "ldm-semantic-512"
    assert info["bytes"] == out.stat().st_size
    assert info["bpp"] == pytest.approx(8 * info["bytes"] / (96 * 64))
    assert sum(c["bytes"] for c in info["chunks"]) == info["bytes"]
    assert {"person", "grass", "sky-other"} == set(info["classes"])
    assert len(info["label_size"]) == 2 and len(info["color_size"]) == 2
    assert main(["decode", str(out), "-o", str(files / "preview.png"), "--preview"]) == 0
    assert Image.open(files / "preview.png").size == (96, 64)


def test_encode_with_explicit_grids_and_budget(files, capsys):
    out = files / "b.sgc"
    assert main(["encode", str(files / "photo.png"), "-o", str(out), "--labels",
                 str(files / "photo.label.png"), "--vocab", "coco-stuff-182",
                 "--label-size", "24", "16", "--color-size", "6", "4"]) == 0
    capsys.readouterr()
    main(["info", str(out), "--json"])
    info = json.loads(capsys.readouterr().out)
    assert info["label_size"] == [24, 16] and info["color_size"] == [6, 4]
    assert main(["encode", str(files / "photo.png"), "-o", str(out), "--labels",
                 str(files / "photo.label.png"), "--vocab", "coco-stuff-182", "--target-bytes", "100"]) == 0
    assert out.stat().st_size <= 100


@pytest.mark.parametrize("content", [None, b"", b"not an sgc file at all", b"SGC\x01\x80"])
def test_bad_files_give_one_line_and_no_traceback(files, content):
    path = files / "bad.sgc"
    if content is not None:
        path.write_bytes(content)
    for args in (["info", str(path)], ["decode", str(path), "-o", str(files / "x.png"), "--preview"]):
        result = run(*args)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("sgc: error:")
    assert not (files / "x.png").exists()


def test_encode_errors_are_one_line(files):
    result = run("encode", str(files / "photo.png"), "-o", str(files / "o.sgc"), "--labels",
                 str(files / "photo.label.png"), "--vocab", "coco-stuff-182", "--label-size", "10", "10")
    assert result.returncode == 1 and "aspect ratio" in result.stderr
    assert "Traceback" not in result.stderr and not (files / "o.sgc").exists()


def test_generative_decode_and_segmenting_encode_with_tiny_models(files, tiny_models, capsys):
    """`sgc encode` without labels runs the profile's segmenter; `sgc decode` runs the diffusion model."""
    out = files / "seg.sgc"
    assert main(["encode", str(files / "photo.png"), "-o", str(out), "--profile", "sd15-controlnet-seg"]) == 0
    assert main(["decode", str(out), "-o", str(files / "gen.png"), "--steps", "2", "--batch-seeds", "2",
                 "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert "gen-seed5.png (seed 5)" in printed and "gen-seed6.png (seed 6)" in printed
    first, second = Image.open(files / "gen-seed5.png"), Image.open(files / "gen-seed6.png")
    assert first.size == second.size == (96, 64)
    assert first.tobytes() != second.tobytes()


def test_missing_model_is_one_line(files, tmp_path, monkeypatch):
    main_args = ["encode", str(files / "photo.png"), "-o", str(files / "p.sgc"), "--labels",
                 str(files / "photo.label.png"), "--vocab", "coco-stuff-182"]
    assert main(main_args) == 0
    monkeypatch.setenv("SGC_MODEL_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("SGC_MODELS_CONFIG", str(tmp_path / "none.json"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = run("decode", str(files / "p.sgc"), "-o", str(files / "p.png"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "sgc models" in result.stderr


def test_info_many_files_and_folders_as_json_lines(files, capsys):
    """`sgc info A B DIR --json`: one object per file and line; a bad file gets an error line,
    the others still print, and the exit status is 1 at the end."""
    first = files / "a.sgc"
    assert main(["encode", str(files / "photo.png"), "-o", str(first), "--labels",
                 str(files / "photo.label.png"), "--vocab", "coco-stuff-182", "--seed", "1"]) == 0
    folder = files / "nested" / "deeper"
    folder.mkdir(parents=True)
    for seed in (2, 3):
        sgc = sgcformat.read(first).with_seed(seed)
        sgcformat.write(folder / f"s{seed}.sgc", sgc)
    (folder / "notes.txt").write_text("not an sgc file, and not named like one")
    (files / "nested" / "bad.sgc").write_bytes(b"SGC\x01 broken")
    capsys.readouterr()
    status = main(["info", "--json", str(first), str(files / "nested"), str(files / "missing.sgc")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 1
    assert [Path(line["file"]).name for line in lines] == [
        "a.sgc", "bad.sgc", "s2.sgc", "s3.sgc", "missing.sgc"]
    assert [line.get("seed") for line in lines] == [1, None, 2, 3, None]
    assert "error" in lines[1] and "error" in lines[4] and "no such file" in lines[4]["error"]
    assert all("error" not in line and line["width"] == 96 for line in (lines[0], lines[2], lines[3]))
    assert main(["info", "--json", str(folder)]) == 0


def test_info_text_for_many_files_reports_bad_ones_on_stderr(files, capsys):
    good = files / "g.sgc"
    assert main(["encode", str(files / "photo.png"), "-o", str(good), "--labels",
                 str(files / "photo.label.png"), "--vocab", "coco-stuff-182"]) == 0
    bad = files / "b.sgc"
    bad.write_bytes(b"nope")
    capsys.readouterr()
    assert main(["info", str(bad), str(good)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{good}: SGC 96x64")
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"sgc: error: {bad}: ")


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`sgc info DIR | head -1`: the reader leaves early; no error line, no traceback."""
    for i in range(200):
        (tmp_path / f"{i}.sgc").write_bytes(
            sgcformat.encode(np.zeros((16, 16, 3), np.uint8), labels=np.zeros((16, 16), np.uint8),
                             vocab="coco-stuff-182").with_seed(i).to_bytes())
    run = subprocess.run(f"'{sys.executable}' -m sgcformat.cli info --json '{tmp_path}' | head -1",
                         shell=True, capture_output=True, text=True, check=True)
    assert run.stdout.count("\n") == 1 and run.stderr == ""


def test_encode_writes_an_older_format_version_on_request(files, capsys):
    """--format-version 2 writes what spec 1.1 readers read: the same maps, a few bytes more."""
    sizes, maps = {}, {}
    for version in (2, 3):
        out = files / f"v{version}.sgc"
        assert main(["encode", str(files / "photo.png"), "-o", str(out), "--labels",
                     str(files / "photo.label.png"), "--vocab", "coco-stuff-182",
                     "--format-version", str(version)]) == 0
        sgc = read(out)
        assert out.read_bytes()[3] == version == sgc.version
        capsys.readouterr()
        assert main(["info", str(out), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["version"] == version
        sizes[version], maps[version] = out.stat().st_size, (sgc.label_map, sgc.color_map)
    assert sizes[2] > sizes[3]
    np.testing.assert_array_equal(maps[2][0], maps[3][0])
    np.testing.assert_array_equal(maps[2][1], maps[3][1])
    with pytest.raises(SystemExit):
        main(["encode", str(files / "photo.png"), "-o", str(files / "x.sgc"), "--format-version", "4"])
