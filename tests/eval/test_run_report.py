"""End to end without model weights (profile ``preview``): report sections, resume, CLI."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from sgcformat.cli import main
from sgcformat.eval import report, run
from sgcformat.eval.metrics import METRICS

CODECS = ("jpeg", "webp")


@pytest.fixture
def folder(scenes):
    return scenes(2)


def _config(folder, out, **changes) -> run.EvalConfig:
    settings = dict(images_dir=folder, out_dir=out, profiles=("preview",), labels_dir=folder,
                    vocab="coco-stuff-182", seeds=2, codecs=CODECS)
    return run.EvalConfig(**(settings | changes))


def test_label_maps_are_not_evaluated_as_images(folder):
    assert [p.name for p in run.list_images(folder)] == ["scene0.png", "scene1.png"]
    assert run.find_labels(folder, folder / "scene0.png") == folder / "scene0.label.png"


def test_run_records_rate_and_pixel_metrics_without_any_model(folder, tmp_path):
    results = run.run(_config(folder, tmp_path / "out"), progress=False)
    assert [r["stem"] for r in results] == ["scene0", "scene1"]
    rows = results[0]["rows"]
    assert list(rows) == ["Input", "SGC (preview)", "JPEG", "WebP"]
    sgc = rows["SGC (preview)"]
    sgc_file = tmp_path / "out" / "files" / "scene0.preview.sgc"
    assert sgc["bytes"] == sgc_file.stat().st_size
    assert sgc["bpp"] == pytest.approx(8 * sgc["bytes"] / (72 * 48))
    assert sgc["bpp512"] == pytest.approx(8 * sgc["bytes"] / 512**2)
    assert len(sgc["samples"]) == 2
    for name in CODECS:
        codec = rows["JPEG" if name == "jpeg" else "WebP"]
        assert codec["target_bytes"] == sgc["bytes"]
        assert codec["reached"] == (codec["bytes"] <= sgc["bytes"])
    sample = sgc["samples"][0]
    assert 0 < sample["ms_ssim"] <= 1 and sample["psnr"] > 5
    # no segmenter with the preview profile: semantic metrics say so instead of a number
    assert "segmenter" in sample["bce"]["unavailable"]
    assert (tmp_path / "out" / sample["image"]).is_file()


def test_report_has_every_section_and_row(folder, tmp_path):
    config = _config(folder, tmp_path / "out")
    results = run.run(config, progress=False)
    md_path, html_path = report.write_report(results, config.to_json(), run.set_metrics(config, results),
                                             config.out_dir)
    md, page = md_path.read_text(), html_path.read_text()
    for title in ("Setup", "Table I", "Rate", "Diversity and decode time", "Set-level realism",
                  "Unavailable metrics", "Rate–quality plots", "Comparison grid", "Per image"):
        assert f"## {title}" in md
        assert f"<h2>{title}" in page
    table = md.split("## Table I")[1].split("## Rate")[0]
    for row in ("Input", "JPEG", "WebP", "SGC (preview)"):
        assert re.search(rf"^\| {re.escape(row)} \|", table, re.M), row
    for metric in METRICS:
        assert metric.label in table
    # metrics without weights are spelled out, with how to get them, never zero
    unavailable = md.split("## Unavailable metrics")[1].split("##")[0]
    assert "MUSIQ" in unavailable and "BCE" in unavailable and "FID" in unavailable
    assert "need at least 50" in unavailable
    assert "| unavailable |" in table
    for figure in ("rate_quality.png", "grid.png"):
        assert f"]({figure})" in md and f"src='{figure}'" in page
        with Image.open(config.out_dir / figure) as im:
            assert im.width > 100


def test_resume_skips_finished_images(folder, tmp_path, monkeypatch):
    config = _config(folder, tmp_path / "out")
    first = run.run(config, progress=False)
    calls = []
    real = run.evaluate_image
    monkeypatch.setattr(run, "evaluate_image", lambda path, *a: calls.append(path.name) or real(path, *a))

    assert run.run(config, progress=False) == first
    assert calls == []

    (config.out_dir / "cache" / "scene1.json").unlink()  # as if interrupted during scene1
    assert run.run(config, progress=False)[0] == first[0]
    assert calls == ["scene1.png"]

    calls.clear()  # other settings must not reuse results
    run.run(_config(folder, config.out_dir, seeds=1), progress=False)
    assert calls == ["scene0.png", "scene1.png"]


def test_unknown_codec_is_a_clear_error(folder, tmp_path):
    with pytest.raises(ValueError, match="codec 'nope' is not available"):
        run.run(_config(folder, tmp_path / "out", codecs=("nope",)), progress=False)


def test_sgc_eval_command(folder, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["eval", str(folder), "-o", str(out), "--profile", "preview", "--labels-dir", str(folder),
                 "--vocab", "coco-stuff-182", "--codec", "jpeg", "--limit", "1", "--note", "tiny test"])
    assert code == 0
    assert str(out / "report.md") in capsys.readouterr().out
    md = (out / "report.md").read_text()
    assert "**Note:** tiny test" in md and "1 image(s)" in md
    cached = json.loads((out / "cache" / "scene0.json").read_text())
    assert set(cached["rows"]) == {"Input", "SGC (preview)", "JPEG"}
