"""Stable Diffusion 1.5 + ControlNet-seg decoder (profile ``sd15-controlnet-seg``).

The label map is upsampled with NEAREST and rendered with the exact ADE20K palette
the ControlNet was trained on (class i, 0 = wall, gets colour i), at exactly the
generation size so the pipeline's own (lanczos) resize never blends palette
colours. The colour map is the img2img init (SDEdit at the profile's strength),
and the prompt lists the classes present, largest first: a free signal the paper
did not use. DPM-Solver++ is the default sampler; ``fast=True`` fuses LCM-LoRA
into a separate copy of the weights and samples in a few steps.

No safety checker is loaded: the decoder reproduces the content of the file it
is given, and the checker is a 1.2 GB download that would also blank legitimate
photos.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
from PIL import Image

from ..registry import vocabulary
from . import loading
from .profiles import ModelProfile


@cache
def palette() -> np.ndarray:
    """The 150 ControlNet-seg colours, (150, 3) uint8; row i is class i of ade20k-150."""
    text = resources.files("sgcformat").joinpath("data/vocab/ade20k-150.palette.txt").read_text()
    rows = [[int(v) for v in line.split()] for line in text.splitlines() if line.strip()]
    table = np.array(rows, dtype=np.uint8)
    if table.shape != (150, 3):
        raise RuntimeError(f"ADE20K palette has shape {table.shape}, expected (150, 3)")
    return table


def control_image(labels: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """Palette rendering of ``labels`` at ``size`` (width, height), NEAREST-upsampled ids first."""
    ids = Image.fromarray(np.asarray(labels).astype(np.int32))
    ids = np.asarray(ids.resize(size, Image.Resampling.NEAREST))
    return Image.fromarray(palette()[ids])


def build_prompt(labels: np.ndarray, vocab: str, max_classes: int) -> str:
    """"a photo of sky, building, tree": present classes by decreasing area, by display name."""
    names = vocabulary(vocab).display_names
    counts = np.bincount(np.asarray(labels).ravel().astype(np.int64), minlength=len(names))
    order = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] > 0][:max_classes]
    return "a photo of " + ", ".join(names[i] for i in order)


def pipeline(profile: ModelProfile, device: str, *, fast: bool = False, dtype: str = "fp32"):
    """A fresh pipeline object (own scheduler) around the process-wide shared modules."""
    from diffusers import (
        DPMSolverMultistepScheduler,
        LCMScheduler,
        StableDiffusionControlNetImg2ImgPipeline,
    )

    sd_component, controlnet_component = profile.decoder
    if fast:
        if profile.fast is None:
            raise ValueError(f"profile {profile.name} has no fast mode")
        lora = loading.load(profile.fast, profile, device)
        folder = loading.resolve(sd_component, profile)
        parts = loading.shared(
            ("sd15+lcm", str(folder), str(lora), device, dtype),
            lambda: _fused_lcm(sd_component, profile, device, dtype, lora),
        )
        scheduler = LCMScheduler.from_config(parts["scheduler_config"])
    else:
        parts = loading.load(sd_component, profile, device, dtype)
        scheduler = DPMSolverMultistepScheduler.from_config(
            parts["scheduler_config"], algorithm_type="dpmsolver++"
        )
    controlnet = loading.load(controlnet_component, profile, device, dtype)  # after the base model:
    # a user missing both hears about the base first
    pipe = StableDiffusionControlNetImg2ImgPipeline(
        vae=parts["vae"], text_encoder=parts["text_encoder"], tokenizer=parts["tokenizer"],
        unet=parts["unet"], controlnet=controlnet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _fused_lcm(sd_component, profile: ModelProfile, device: str, dtype: str, lora_path) -> dict:
    """SD components loaded afresh (not the shared ones) with LCM-LoRA fused into the weights."""
    import torch
    from diffusers import LCMScheduler, StableDiffusionPipeline

    folder = loading.resolve(sd_component, profile)
    parts = loading.load_sd15(folder, device, loading.torch_dtype(dtype))
    pipe = StableDiffusionPipeline(
        vae=parts["vae"], text_encoder=parts["text_encoder"], tokenizer=parts["tokenizer"],
        unet=parts["unet"], scheduler=LCMScheduler.from_config(parts["scheduler_config"]),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    with torch.inference_mode(False):
        pipe.load_lora_weights(str(lora_path.parent), weight_name=lora_path.name)
        pipe.fuse_lora()
        pipe.unload_lora_weights()
    return parts


