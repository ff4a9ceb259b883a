"""Metric functions against values computed by hand, and unavailable metrics reported as such."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sgcformat.eval import metrics
from sgcformat.eval.metrics import (
    LearnedMetrics,
    Unavailable,
    binary_cross_entropy,
    mean_iou,
    ms_ssim,
    one_hot,
    pixel_accuracy,
    psnr,
    value_from_json,
    value_to_json,
)

REFERENCE = np.array([[0, 0, 1], [1, 2, 2], [-1, 2, 2]])
PREDICTED = np.array([[0, 1, 1], [1, 2, 0], [5, 2, 2]])


def test_pixel_accuracy_ignores_unlabeled_pixels():
    # 8 labelled pixels; disagreements at (0,1) and (1,2): 6/8
    assert pixel_accuracy(REFERENCE, PREDICTED) == pytest.approx(6 / 8)


def test_mean_iou_over_classes_present_in_either_map():
    # class 0: ref {(0,0),(0,1)}, pred {(0,0),(1,2)} → 1/3
    # class 1: ref {(0,2),(1,0)}, pred {(0,1),(0,2),(1,0)} → 2/3
    # class 2: ref {(1,1),(1,2),(2,1),(2,2)}, pred {(1,1),(2,1),(2,2)} → 3/4
    # class 5 is predicted only on the unlabeled pixel, so it is not present
    assert mean_iou(REFERENCE, PREDICTED) == pytest.approx((1 / 3 + 2 / 3 + 3 / 4) / 3)


def test_mean_iou_counts_invented_classes_as_zero():
    ref = np.array([[0, 0], [0, 0]])
    pred = np.array([[0, 0], [0, 3]])
    assert mean_iou(ref, pred) == pytest.approx((3 / 4 + 0) / 2)


def test_label_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="shape"):
        pixel_accuracy(REFERENCE, PREDICTED[:2])
    with pytest.raises(ValueError, match="no labelled pixel"):
        mean_iou(np.full((2, 2), -1), np.zeros((2, 2), int))


def test_bce_on_soft_maps_matches_the_formula():
    p = np.array([0.5, 1.0, 0.0, 0.2]).reshape(2, 1, 2)
    q = np.array([0.25, 0.9, 0.3, 0.2]).reshape(2, 1, 2)
    terms = [
        -(0.5 * math.log(0.25) + 0.5 * math.log(0.75)),
        -math.log(0.9),
        -math.log(0.7),
        -(0.2 * math.log(0.2) + 0.8 * math.log(0.8)),
    ]
    assert binary_cross_entropy(p, q) == pytest.approx(sum(terms) / 4)


def test_bce_on_one_hot_maps_is_200_over_c_per_wrong_pixel():
    classes = 4
    ref = one_hot(REFERENCE.clip(0), classes)
    pred = one_hot(PREDICTED.clip(0, classes - 1), classes)
    wrong = np.count_nonzero(REFERENCE.clip(0) != PREDICTED.clip(0, classes - 1))
    assert binary_cross_entropy(ref, pred) == pytest.approx(200 * wrong / (classes * REFERENCE.size))
    assert binary_cross_entropy(ref, ref) == 0


def test_bce_mask_and_shape_checks():
    ref, pred = one_hot(np.array([[0, 1]]), 2), one_hot(np.array([[0, 0]]), 2)
    assert binary_cross_entropy(ref, pred, mask=np.array([[True, False]])) == 0
    assert binary_cross_entropy(ref, pred, mask=np.array([[False, True]])) == pytest.approx(100)
    with pytest.raises(ValueError):
        binary_cross_entropy(ref, pred[:1])


def test_one_hot_leaves_out_of_range_ids_empty():
    planes = one_hot(np.array([[0, 2, -1]]), 3)
    assert planes[:, 0, 0].tolist() == [1, 0, 0]
    assert planes[:, 0, 1].tolist() == [0, 0, 1]
    assert planes[:, 0, 2].tolist() == [0, 0, 0]


def test_psnr_on_known_arrays():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 5, np.uint8)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25))
    b[0, 0, 0] = 0  # one element exact: mse = 25 * 47/48
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / (25 * 47 / 48)))
    assert psnr(a, a) == math.inf


def test_ms_ssim_of_constant_images_is_the_luminance_term():
    a, b = np.full((64, 64), 100.0), np.full((64, 64), 120.0)
    c1 = (0.01 * 255) ** 2
    luminance = (2 * 100 * 120 + c1) / (100**2 + 120**2 + c1)
    # 64 px fit three scales (64, 32, 16 ≥ 11 taps); only the coarsest uses luminance
    weights = metrics.MS_SSIM_WEIGHTS[:3]
    assert ms_ssim(a, b) == pytest.approx(luminance ** (weights[2] / sum(weights)))


def test_ms_ssim_falls_with_noise():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (180, 200, 3)).astype(np.float64)
    assert ms_ssim(image, image) == pytest.approx(1.0)
    scores = [ms_ssim(image, np.clip(image + rng.normal(0, s, image.shape), 0, 255)) for s in (5, 20, 60)]
    assert scores[0] > scores[1] > scores[2]
    with pytest.raises(ValueError, match="too small"):
        ms_ssim(image[:8, :8], image[:8, :8])


def test_unavailable_round_trips_through_json():
    value = Unavailable("no weights", "download them")
    assert value_from_json(value_to_json(value)) == value
    assert value_from_json(value_to_json(0.5)) == 0.5
    assert str(value) == "unavailable (no weights; download them)"


def test_missing_pyiqa_is_reported_not_scored(monkeypatch):
    real = metrics._module_available
    monkeypatch.setattr(metrics, "_module_available", lambda name: name != "pyiqa" and real(name))
    learned = LearnedMetrics("cpu")
    image = np.zeros((16, 16, 3), np.uint8)
    for key in ("musiq", "clipiqa", "hyperiqa", "dbcnn", "lpips", "dists"):
        args = (image,) if key in metrics.NO_REFERENCE else (image, image)
        value = learned.score(key, *args)
        assert isinstance(value, Unavailable)
        assert "pip install pyiqa" in value.how


def test_clip_without_weights_is_unavailable(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    value = LearnedMetrics("cpu", str(tmp_path / "missing")).score("clip", image, image)
    assert isinstance(value, Unavailable)
    assert "--clip-model" in value.how


def test_clip_cosine_through_the_real_loading_code(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                     "num_hidden_layers": 1, "vocab_size": 100},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                       "num_hidden_layers": 1, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    transformers.CLIPModel(config).save_pretrained(tmp_path)
    processor_class = getattr(transformers, "CLIPImageProcessorPil", transformers.CLIPImageProcessor)
    processor = processor_class(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor.save_pretrained(tmp_path)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 48, 3)).astype(np.uint8)
    learned = LearnedMetrics("cpu", str(tmp_path))
    assert learned.score("clip", a, a) == pytest.approx(1.0, abs=1e-5)
    other = learned.score("clip", a, 255 - a)
    assert -1.0 <= other < 0.99999
