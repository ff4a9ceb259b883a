"""Semantic encoders: the profile's segmenter turns a photo into class ids of its vocabulary.

- ``ldm-semantic-512`` (COCO-Stuff 182): MaskFormer R101 COCO-Stuff from transformers.
  Chosen over the DeepLabV2 that labelled the LDM's training data because it loads
  natively in transformers (no third-party code or pickles) and is stronger on
  COCO-Stuff; its 171 outputs are the used COCO-Stuff classes in id order, mapped
  back onto the 182 ids (the 11 never-annotated ids are never predicted).
- ``sd15-controlnet-seg`` (ADE20K-150): UperNet ConvNeXt-S, outputs 0..149 = our ids.

Logits are upsampled (bilinear) to a working size with the long side at most
:data:`WORK_SIDE`, the arg-max taken there, and the ids upsampled with NEAREST to
the full image: the coder downsamples label maps to at most 255 cells per side,
so full-resolution logits would cost memory without changing a file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import VocabularyError
from ..registry import vocabulary
from . import loading
from .profiles import model_profile

#: COCO-Stuff ids (0-based) that have no annotations in COCO-Stuff-164k.
COCO_STUFF_UNUSED = frozenset({11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90})
WORK_SIDE = 512


def segment(image: Image.Image, profile: str, device: str | None = None) -> np.ndarray:
    """Class ids (H, W) uint16 of ``profile``'s vocabulary for ``image``."""
    return segment_batch([image], profile, device)[0]


def segment_batch(
    images: Sequence[Image.Image], profile: str, device: str | None = None
) -> list[np.ndarray]:
    """:func:`segment` for several images, run through the network as one batch."""
    entry = model_profile(profile)
    device = device or loading.default_device()
    model, processor = loading.load(entry.segmenter, entry, device)
    mapping = class_mapping(model.config.id2label, entry.vocab)
    rgb = [im.convert("RGB") for im in images]
    if not rgb:
        return []
    inputs = processor(images=rgb, return_tensors="pt")
    pixels = inputs["pixel_values"].to(device=model.device, dtype=model.dtype)
    with torch.inference_mode():
        if entry.segmenter.kind == "maskformer":
            out = model(pixel_values=pixels, pixel_mask=inputs["pixel_mask"].to(model.device))
            classes = out.class_queries_logits.float().softmax(-1)[..., :-1]
            masks = out.masks_queries_logits.float().sigmoid()
            logits = torch.einsum("bqc,bqhw->bchw", classes, masks)
            valid = _valid_fraction(inputs["pixel_mask"])
        else:
            logits = model(pixel_values=pixels).logits.float()
            valid = [(1.0, 1.0)] * len(rgb)
        return [
            mapping[_argmax_at(logits[i:i + 1], im.size, valid[i])] for i, im in enumerate(rgb)
        ]


def _valid_fraction(pixel_mask: torch.Tensor) -> list[tuple[float, float]]:
    """Per image, the (height, width) fraction of the padded input that is real image."""
    rows = pixel_mask.any(dim=2).sum(dim=1).tolist()
    cols = pixel_mask.any(dim=1).sum(dim=1).tolist()
    h, w = pixel_mask.shape[1:]
    return [(r / h, c / w) for r, c in zip(rows, cols, strict=True)]


def _argmax_at(logits: torch.Tensor, size: tuple[int, int], valid: tuple[float, float]) -> np.ndarray:
    """Model-class ids at full ``size`` (width, height) from (1, C, h, w) logits."""
    h, w = logits.shape[2:]
    logits = logits[:, :, : max(1, round(h * valid[0])), : max(1, round(w * valid[1]))]
    width, height = size
    scale = min(1.0, WORK_SIDE / max(width, height))
    work = (max(1, round(height * scale)), max(1, round(width * scale)))
    ids = F.interpolate(logits, size=work, mode="bilinear", align_corners=False).argmax(1)[0]
    ids = Image.fromarray(ids.cpu().numpy().astype(np.int32))
    return np.asarray(ids.resize(size, Image.Resampling.NEAREST))


def class_mapping(id2label: dict, vocab: str) -> np.ndarray:
    """Lookup table model class id → vocabulary id (uint16)."""
    names = vocabulary(vocab).class_names
    n = len(id2label)
    if vocab == "coco-stuff-182" and n == len(names) - len(COCO_STUFF_UNUSED):
        used = [i for i in range(len(names)) if i not in COCO_STUFF_UNUSED]
        return np.array(used, dtype=np.uint16)
    if n == len(names):
        return np.arange(n, dtype=np.uint16)
    raise VocabularyError(
        f"segmenter predicts {n} classes; vocabulary {vocab} expects {len(names)}"
        + (f" (or the {len(names) - len(COCO_STUFF_UNUSED)} used ones)"
           if vocab == "coco-stuff-182" else "")
    )
