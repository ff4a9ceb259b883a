"""The generative path with tiny random-weight models: plumbing only, the numbers mean nothing."""

from __future__ import annotations

import pytest

from sgcformat.eval import report, run

pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    from sgcformat.testing import build_tiny_models

    root = tmp_path_factory.mktemp("tiny-models")
    build_tiny_models(root)
    return root


def test_generative_profile_gets_semantic_scores(tiny_root, scenes, tmp_path):
    from sgcformat.testing import use_tiny_models

    images = scenes(1)
    config = run.EvalConfig(images_dir=images, out_dir=tmp_path / "out", profiles=("ldm-semantic-512",),
                            labels_dir=images, seeds=2, codecs=("jpeg",), steps=2)
    with use_tiny_models(tiny_root):
        results = run.run(config, progress=False)
    rows = results[0]["rows"]
    for row in ("SGC (ldm-semantic-512)", "JPEG"):
        for sample in rows[row]["samples"]:
            assert 0 <= sample["pixel_accuracy"] <= 1
            assert 0 <= sample["miou"] <= 1
            # one-hot maps over 182 classes: BCE = 200/182 × (1 − pixel accuracy)
            assert sample["bce"] == pytest.approx(200 / 182 * (1 - sample["pixel_accuracy"]), rel=1e-6)
    sgc = rows["SGC (ldm-semantic-512)"]
    assert [s["seed"] for s in sgc["samples"]] == [0, 1]
    assert all(s["decode_s"] > 0 for s in sgc["samples"])
    assert 0 <= sgc["seed_ms_ssim"] <= 1
    md, _ = report.write_report(results, config.to_json(), run.set_metrics(config, results), config.out_dir)
    assert "SGC (ldm-semantic-512)" in md.read_text()
