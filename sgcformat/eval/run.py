"""The evaluation run: encode, decode, compress with the anchors, score, cache per image.

Each image's results go to ``<out>/cache/<stem>.json`` as soon as the image is
done, tagged with a fingerprint of the settings; a rerun with the same settings
skips those images, so a long GPU run resumes where it was interrupted.
Reconstructions are kept as PNG under ``<out>/images/<row>/`` for the figures
and for set-level metrics (FID/KID).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image

from .. import decode, encode, registry
from ..codec import to_rgb
from ..errors import ModelNotFoundError
from ..files import atomic_write_bytes
from . import baselines
from .metrics import (
    CLIP_MODEL,
    NO_REFERENCE,
    LearnedMetrics,
    MetricValue,
    Unavailable,
    binary_cross_entropy,
    mean_iou,
    ms_ssim,
    one_hot,
    pixel_accuracy,
    psnr,
    value_to_json,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".ppm")
#: Files named ``<stem>.label.png`` are label maps, not images to evaluate.
LABEL_SUFFIX = ".label.png"
CACHE_VERSION = 2  # 2: BRISQUE and NIQE columns
#: FID/KID compare distributions: below this many images they mean little.
MIN_SET_SIZE = 50


@dataclass(frozen=True)
class EvalConfig:
    """Everything that determines the numbers (and so the cache fingerprint)."""

    images_dir: Path
    out_dir: Path
    profiles: tuple[str, ...]
    labels_dir: Path | None = None
    vocab: str | None = None
    seeds: int = 1
    target_bytes: int | None = None
    codecs: tuple[str, ...] | None = None
    steps: int | None = None
    device: str | None = None
    clip_model: str = CLIP_MODEL
    limit: int | None = None
    note: str = ""

    @property
    def labels_vocab(self) -> str | None:
        """Vocabulary of the label maps: ``vocab``, else that of the first profile that has one."""
        return self.vocab or next(
            (registry.profile(p).vocab for p in self.profiles if registry.profile(p).vocab), None)

    def fingerprint(self) -> str:
        keys = ("profiles", "labels_dir", "vocab", "seeds", "target_bytes", "codecs", "steps",
                "clip_model")
        data = {k: str(getattr(self, k)) for k in keys} | {"version": CACHE_VERSION}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def list_images(images_dir: Path, limit: int | None = None) -> list[Path]:
    """Images of a folder in name order, label maps (``*.label.png``) left out."""
    if not images_dir.is_dir():
        raise FileNotFoundError(f"{images_dir} is not a folder")
    paths = sorted(
        p for p in images_dir.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.lower().endswith(LABEL_SUFFIX)
    )
    if not paths:
        raise FileNotFoundError(f"no images in {images_dir}")
    return paths[:limit] if limit else paths


def find_labels(labels_dir: Path | None, image: Path) -> Path | None:
    """``<stem>.label.png`` or ``<stem>.png`` in the labels folder, if there."""
    if labels_dir is None:
        return None
    for name in (image.stem + LABEL_SUFFIX, image.stem + ".png"):
        if (labels_dir / name).is_file():
            return labels_dir / name
    return None


def sgc_row(profile: str) -> str:
    return f"SGC ({profile})"


def slug(row: str) -> str:
    """A row name as a folder name: ``SGC (preview) seed0`` → ``sgc-preview-seed0``."""
    return re.sub(r"[^a-z0-9]+", "-", row.lower()).strip("-")


class Segmenter:
    """The semantic projection Φ: a profile's segmentation network, or why it is missing."""

    def __init__(self, profile: str | None, device: str | None):
        self.profile, self.device = profile, device
        self.missing: Unavailable | None = None
        if profile is None:
            self.missing = Unavailable(
                "no profile with a segmenter is evaluated",
                "add --profile ldm-semantic-512 or sd15-controlnet-seg",
            )

    @property
    def num_classes(self) -> int:
        return registry.vocabulary(registry.profile(self.profile).vocab).size

    def __call__(self, image: Image.Image) -> np.ndarray | Unavailable:
        if self.missing is not None:
            return self.missing
        try:
            from ..models import segment

            return np.asarray(segment(image, self.profile, device=self.device))
        except ModelNotFoundError as exc:
            self.missing = Unavailable(f"segmenter of {self.profile} not installed", str(exc))
        except ImportError as exc:
            self.missing = Unavailable(f"cannot import the models: {exc}", "pip install sgcformat[models]")
        return self.missing


def semantic_scores(reference: np.ndarray | Unavailable, labels: np.ndarray | Unavailable,
                    num_classes: int | None) -> dict[str, MetricValue]:
    """Pixel accuracy, mIoU and BCE between the two segmentations (one-hot probability maps)."""
    missing = next((x for x in (reference, labels) if isinstance(x, Unavailable)), None)
    if missing is not None:
        return dict.fromkeys(("pixel_accuracy", "miou", "bce"), missing)
    bce = binary_cross_entropy(one_hot(reference, num_classes), one_hot(labels, num_classes))
    return {
        "pixel_accuracy": pixel_accuracy(reference, labels),
        "miou": mean_iou(reference, labels),
        "bce": bce,
    }


class Scorer:
    """Scores reconstructions of one original against it, on every metric of the report."""

    def __init__(self, learned: LearnedMetrics, segmenter: Segmenter):
        self.learned, self.segmenter = learned, segmenter

    def input_scores(self, original: Image.Image) -> tuple[dict, np.ndarray | Unavailable]:
        arr = np.asarray(original)
        scores = {k: self.learned.score(k, arr) for k in NO_REFERENCE}
        return scores, self.segmenter(original)

    def scores(self, original: Image.Image, reference_labels, image: Image.Image) -> dict:
        if image.size != original.size:  # decoders may work at their own resolution
            image = image.resize(original.size, Image.BICUBIC)
        ref, out = np.asarray(original), np.asarray(image)
        scores: dict[str, MetricValue] = {k: self.learned.score(k, out) for k in NO_REFERENCE}
        labels = self.segmenter(image)
        num_classes = None if self.segmenter.missing else self.segmenter.num_classes
        scores |= semantic_scores(reference_labels, labels, num_classes)
        scores["clip"] = self.learned.score("clip", ref, out)
        scores["psnr"] = psnr(ref, out)
        scores["ms_ssim"] = ms_ssim(ref, out)
        scores["lpips"] = self.learned.score("lpips", ref, out)
        scores["dists"] = self.learned.score("dists", ref, out)
        return scores


def _json_scores(scores: dict) -> dict:
    return {k: value_to_json(v) for k, v in scores.items()}


def _rate(nbytes: int, width: int, height: int) -> dict:
    return {"bytes": nbytes, "bpp": 8 * nbytes / (width * height), "bpp512": 8 * nbytes / 512**2}


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def _save_png(image: Image.Image, out_dir: Path, row: str, stem: str) -> str:
    """Save a reconstruction under ``images/<row>/`` and return its path relative to ``out_dir``."""
    path = out_dir / "images" / slug(row) / f"{stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG")
    return path.relative_to(out_dir).as_posix()


def evaluate_image(path: Path, config: EvalConfig, codecs: list[baselines.Codec],
                   scorer: Scorer) -> dict:
    """All rows of one image: input, SGC per profile (K seeds), each codec at SGC's rate."""
    original = to_rgb(path)
    w, h = original.size
    out, stem = config.out_dir, path.stem
    input_scores, reference_labels = scorer.input_scores(original)
    rows: dict[str, dict] = {"Input": {
        "kind": "input", **_rate(path.stat().st_size, w, h),
        "samples": [_json_scores(input_scores) | {
            "image": _save_png(original, out, "input", stem)}],
    }}
    label_path = find_labels(config.labels_dir, path)
    for profile in config.profiles:
        # label maps are in one vocabulary; a profile of another one segments the image itself
        labels = label_path if registry.profile(profile).vocab in (None, config.labels_vocab) else None
        sgc = encode(
            original, labels=labels, vocab=config.labels_vocab if labels else None,
            profile=profile, target_bytes=config.target_bytes, device=config.device,
        )
        data = sgc.to_bytes()
        _write(config.out_dir / "files" / f"{stem}.{profile}.sgc", data)
        samples, decoded = [], []
        for seed in range(config.seeds):
            start = time.perf_counter()
            image = decode(sgc, seed=seed, steps=config.steps, device=config.device)
            seconds = time.perf_counter() - start
            saved = _save_png(image, out, f"{sgc_row(profile)} seed{seed}", stem)
            decoded.append(np.asarray(image))
            scores = scorer.scores(original, reference_labels, image)
            samples.append(_json_scores(scores) | {"decode_s": seconds, "seed": seed, "image": saved})
        rows[sgc_row(profile)] = {
            "kind": "sgc", **_rate(len(data), w, h), "samples": samples,
            "labels": str(labels) if labels else "segmenter",
            "label_grid": list(sgc.label_size), "color_grid": list(sgc.color_size),
            "seed_ms_ssim": _seed_similarity(decoded),
        }
    target = rows[sgc_row(config.profiles[0])]["bytes"]
    for codec in codecs:
        start = time.perf_counter()
        encoded = codec.at_rate(original, target)
        seconds = time.perf_counter() - start
        saved = _save_png(encoded.image, out, codec.name, stem)
        scores = scorer.scores(original, reference_labels, encoded.image)
        rows[codec.name] = {
            "kind": "codec", **_rate(encoded.size, w, h), "target_bytes": target,
            "reached": encoded.reached, "setting": encoded.setting,
            "samples": [_json_scores(scores) | {"encode_s": seconds, "image": saved}],
        }
    return {"image": str(path), "stem": stem, "width": w, "height": h, "rows": rows,
            "fingerprint": config.fingerprint()}


def _seed_similarity(decoded: list[np.ndarray]) -> float | None:
    """Mean pairwise MS-SSIM between the seeds' decodes: 1 = no diversity."""
    if len(decoded) < 2:
        return None
    return float(np.mean([ms_ssim(a, b) for a, b in combinations(decoded, 2)]))


def cache_path(config: EvalConfig, image: Path) -> Path:
    return config.out_dir / "cache" / f"{image.stem}.json"


def load_cached(config: EvalConfig, image: Path) -> dict | None:
    """The cached result of an image if it was computed with the same settings."""
    path = cache_path(config, image)
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if result.get("fingerprint") == config.fingerprint() else None


def select_codecs(names: Iterable[str] | None) -> list[baselines.Codec]:
    """The available codecs, or the named ones (error for a name this machine cannot run)."""
    codecs = baselines.available_codecs()
    if names is None:
        return codecs
    by_key = {c.name.lower().replace(" ", ""): c for c in codecs}
    chosen = []
    for name in names:
        key = name.lower().replace(" ", "")
        if key not in by_key:
            missing = {k.lower().replace(" ", ""): v for k, v in baselines.missing_codecs().items()}
            hint = missing.get(key, f"known here: {', '.join(c.name for c in codecs)}")
            raise ValueError(f"codec {name!r} is not available ({hint})")
        chosen.append(by_key[key])
    return chosen


def run(config: EvalConfig, progress: bool = True) -> list[dict]:
    """Evaluate every image of the folder (cached ones are reused) and return their results."""
    for p in config.profiles:
        registry.profile(p)
    images = list_images(config.images_dir, config.limit)
    codecs = select_codecs(config.codecs)
    semantic_profile = next((p for p in config.profiles if registry.profile(p).vocab), None)
    scorer = Scorer(LearnedMetrics(config.device, config.clip_model),
                    Segmenter(semantic_profile, config.device))
    results = []
    try:
        from tqdm import tqdm
    except ImportError:
        progress = False
    bar = tqdm(images, desc="sgc eval", unit="image") if progress else None
    for image in images:
        result = load_cached(config, image)
        if result is None:
            result = evaluate_image(image, config, codecs, scorer)
            _write(cache_path(config, image), json.dumps(result, indent=1).encode())
        results.append(result)
        if bar is not None:
            bar.set_postfix_str(image.name)
            bar.update()
    if bar is not None:
        bar.close()
    return results


def set_metrics(config: EvalConfig, results: list[dict]) -> dict[str, dict]:
    """FID and KID of each reconstruction row against the inputs, where the set is large enough."""
    rows = [r for r in results[0]["rows"] if r != "Input"] if results else []
    if len(results) < MIN_SET_SIZE:
        reason = Unavailable(
            f"{len(results)} images: FID/KID need at least {MIN_SET_SIZE} to mean anything",
            "evaluate a larger folder",
        )
        return {row: {"fid": value_to_json(reason), "kid": value_to_json(reason)} for row in rows}
    try:
        from cleanfid import fid
    except ImportError:
        missing = Unavailable("clean-fid is not installed", "pip install clean-fid (needs torchvision)")
        return {row: {"fid": value_to_json(missing), "kid": value_to_json(missing)} for row in rows}
    out: dict[str, dict] = {}
    images = config.out_dir / "images"
    for row in rows:
        folder = images / slug(row + (" seed0" if row.startswith("SGC") else ""))
        try:
            out[row] = {
                "fid": fid.compute_fid(str(images / "input"), str(folder), verbose=False),
                "kid": fid.compute_kid(str(images / "input"), str(folder), verbose=False),
            }
        except Exception as exc:  # clean-fid downloads Inception weights on first use
            missing = Unavailable(f"clean-fid failed: {exc}"[:200], "let clean-fid fetch its weights once")
            out[row] = {"fid": value_to_json(missing), "kid": value_to_json(missing)}
    return out
