"""Where SDEdit starts: CompVis img2img for the LDM (the paper's flow), diffusers' for SD 1.5.

CompVis (``scripts/img2img.py`` with ``ldm/models/diffusion/ddim.py``): ``t_enc = int(strength ×
steps)``; ``stochastic_encode`` noises with ``ddim_alphas[t_enc]``; ``decode`` runs
``ddim_timesteps[:t_enc]`` from the top. ``ddim_timesteps`` ("uniform") is
``range(0, 1000, 1000 // steps) + 1``, rebuilt here from that formula, not from diffusers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

from sgcformat.models import controlnet, loading
from sgcformat.models.ldm import LDMSemanticSynthesisPipeline, compvis_sdedit_start
from sgcformat.models.profiles import PROFILES

LDM_PROFILE = PROFILES["ldm-semantic-512"]
SD_PROFILE = PROFILES["sd15-controlnet-seg"]


def _compvis(steps: int, strength: float) -> tuple[int | None, int, int]:
    """(noising timestep, first denoised timestep, steps run) as CompVis computes them."""
    ddim_timesteps = np.asarray(list(range(0, 1000, 1000 // steps))) + 1
    t_enc = int(strength * steps)
    noise_t = int(ddim_timesteps[t_enc]) if t_enc < steps else None
    return noise_t, int(ddim_timesteps[:t_enc][-1]), t_enc


def _ldm_scheduler() -> DDIMScheduler:
    from sgcformat.testing import tiny_ldm_parts

    return tiny_ldm_parts()[3]  # the schedule config the converter writes


@pytest.mark.parametrize(
    ("steps", "strength", "noise_t", "first_t"),
    [(200, 0.7, 701, 696), (50, 0.7, 701, 681), (100, 0.5, 501, 491), (10, 0.3, 301, 201),
     (250, 0.7, 701, 697), (300, 0.7, 631, 628), (200, 1.0, None, 996)],
)
def test_ldm_start_matches_compvis_img2img(steps, strength, noise_t, first_t):
    scheduler = _ldm_scheduler()
    scheduler.set_timesteps(steps)
    start, timesteps = compvis_sdedit_start(scheduler.timesteps, strength)
    assert (start, int(timesteps[0])) == (noise_t, first_t)
    # CompVis' list is longer when steps does not divide 1000 (334 entries for 300); img2img
    # only reads its first t_enc + 1, which equal diffusers' "leading" ones.
    assert _compvis(steps, strength) == (noise_t, first_t, len(timesteps))
    assert int(timesteps[-1]) == 1


def test_ldm_pipeline_noises_at_701_and_denoises_from_696(tiny_models):
    parts = loading.load(LDM_PROFILE.decoder[0], LDM_PROFILE, "cpu")
    pipe = LDMSemanticSynthesisPipeline(unet=parts.unet, vqvae=parts.vqvae,
                                        channel_mapper=parts.channel_mapper, scheduler=_ldm_scheduler())
    pipe.set_progress_bar_config(disable=True)
    noised, denoised = [], []
    add_noise = pipe.scheduler.add_noise

    def record_noise(original, noise, timesteps):
        noised.append(timesteps.tolist())
        return add_noise(original, noise, timesteps)

    pipe.scheduler.add_noise = record_noise
    labels = torch.zeros(1, 64, 64, dtype=torch.long)
    color = torch.zeros(1, 3, 64, 64)
    pipe(labels, color, strength=0.7, num_inference_steps=200, guidance_scale=1.0,
         generator=torch.Generator().manual_seed(0), output_type="pt",
         callback_on_step_end=lambda p, i, t, kw: denoised.append(int(t)))
    assert noised == [[701]]
    assert denoised[0] == 696 and len(denoised) == 140


def test_sd_pipeline_keeps_the_diffusers_start(tiny_models):
    """diffusers img2img noises at the first timestep it denoises (no CompVis offset)."""
    from PIL import Image

    pipe = controlnet.pipeline(SD_PROFILE, "cpu")
    noised, denoised = [], []
    add_noise = pipe.scheduler.add_noise

    def record_noise(original, noise, timesteps):
        noised.append(int(timesteps[0]))
        return add_noise(original, noise, timesteps)

    pipe.scheduler.add_noise = record_noise
    image = Image.new("RGB", (64, 64), (120, 130, 140))
    pipe(prompt="a photo of sky", image=image, control_image=image, strength=0.8,
         num_inference_steps=10, guidance_scale=1.0, output_type="np",
         generator=torch.Generator().manual_seed(0),
         callback_on_step_end=lambda p, i, t, kw: denoised.append(int(t)) or kw)
    assert len(denoised) == 8 and noised == [denoised[0]]
