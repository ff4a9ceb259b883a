"""The paper's decoder: CompVis LDM semantic synthesis with SDEdit colour guidance.

Components, as diffusers modules:

- ``unet``: :class:`~diffusers.UNet2DModel` on ``concat(latent, condition)`` (6 channels);
- ``vqvae``: :class:`~diffusers.VQModel`, the VQ-f4 first stage (latents are unquantized
  on encode and quantized on decode, as in CompVis' ``VQModelInterface``);
- ``channel_mapper``: :class:`SegmentationChannelMapper`, the condition stage
  (CompVis ``SpatialRescaler``): one-hot labels, bilinear ×0.5 per stage, then a 1×1 conv;
- ``scheduler``: :class:`~diffusers.DDIMScheduler` with the model's training betas.

Colour guidance (paper §II-C): the upsampled colour map is encoded with the VQ
encoder, noised to ``strength`` × T and denoised from there (SDEdit), exactly as
CompVis' img2img does it (:func:`compvis_sdedit_start`): noised with the alpha of DDIM
index ``t_enc = int(strength × steps)`` and denoised from the index below, so at 200
steps and 0.7 the latent is noised at timestep 701 and the first step runs at 696.
diffusers' img2img noises at the first denoised timestep (696), one DDIM step less noise;
the SD profile keeps that convention, which is the one its pipeline was tuned with.

Guidance and the "null" segmentation: the model was trained without condition
dropout, so it has no learned unconditional input. We use the **all-zero one-hot
map** (no class anywhere) as the null segmentation: with the mapper's bias-free
1×1 conv it gives an all-zero condition, the one input that favours no class.
``eps = eps_null + g · (eps_cond − eps_null)``; ``guidance_scale <= 1`` skips the
null branch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DiffusionPipeline, ModelMixin, UNet2DModel, VQModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image


class SegmentationChannelMapper(ModelMixin, ConfigMixin):
    """CompVis ``SpatialRescaler``: one-hot map → ``n_stages`` rescalings → 1×1 conv (no bias)."""

    @register_to_config
    def __init__(
        self,
        in_channels: int = 182,
        out_channels: int = 3,
        n_stages: int = 2,
        multiplier: float = 0.5,
        method: str = "bilinear",
    ):
        super().__init__()
        self.channel_mapper = torch.nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        x = onehot
        for _ in range(self.config.n_stages):
            x = F.interpolate(x, scale_factor=self.config.multiplier, mode=self.config.method)
        return self.channel_mapper(x)


def one_hot(labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, H, W) integer labels → (B, C, H, W) one-hot."""
    return F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).to(dtype)


def compvis_sdedit_start(timesteps: torch.Tensor, strength: float) -> tuple[int | None, torch.Tensor]:
    """(noising timestep, timesteps to denoise) of CompVis img2img for a DDIM schedule.

    ``timesteps`` is the scheduler's descending schedule. CompVis' ``stochastic_encode``
    noises with ``ddim_alphas[t_enc]`` (the ``t_enc``-th timestep, ascending) and ``decode``
    then runs the ``t_enc`` timesteps below it. The noising timestep is ``None`` when the
    whole schedule runs (``t_enc`` = steps): the start is pure noise.
    """
    steps = len(timesteps)
    t_enc = min(int(steps * strength), steps)
    ascending = timesteps.flip(0)
    noise_t = int(ascending[t_enc]) if t_enc < steps else None
    return noise_t, timesteps[steps - t_enc:]


class LDMSemanticSynthesisPipeline(DiffusionPipeline):
    """Semantic image synthesis with a CompVis LDM, optionally started from a colour image (SDEdit)."""

    model_cpu_offload_seq = "channel_mapper->unet->vqvae"

    def __init__(
        self,
        unet: UNet2DModel,
        vqvae: VQModel,
        channel_mapper: SegmentationChannelMapper,
        scheduler: DDIMScheduler,
    ):
        super().__init__()
        self.register_modules(
            unet=unet, vqvae=vqvae, channel_mapper=channel_mapper, scheduler=scheduler
        )

    @property
    def latent_factor(self) -> int:
        """Pixels per latent cell of the first stage."""
        return 2 ** (len(self.vqvae.config.block_out_channels) - 1)

    @property
    def native_size(self) -> int:
        """The side length the UNet was built for, in pixels."""
        return self.unet.config.sample_size * self.latent_factor

    @torch.no_grad()
    def __call__(
        self,
        labels: torch.Tensor,
        color: torch.Tensor | None = None,
        *,
        strength: float = 0.7,
        num_inference_steps: int = 200,
        guidance_scale: float = 2.0,
        eta: float = 0.0,
        generator: torch.Generator | list[torch.Generator] | None = None,
        callback_on_step_end: Callable[[DiffusionPipeline, int, int, dict], dict] | None = None,
        output_type: str = "pil",
    ) -> ImagePipelineOutput:
        """Generate images.

        Args:
            labels: (B, H, W) class ids at the output resolution.
            color: (B, 3, H, W) colour init in [-1, 1] (SDEdit), or ``None`` to start from noise.
            strength: fraction of the schedule to run from the noised colour latent (1 = pure noise).
            generator: one generator, or one per sample, for the starting noise.
            callback_on_step_end: diffusers-style ``(pipe, step, timestep, kwargs) -> dict``.
            output_type: ``"pil"``, ``"np"`` (B, H, W, 3 floats in [0, 1]) or ``"pt"``.
        """
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        device, dtype = self.unet.device, self.unet.dtype
        batch, height, width = labels.shape
        factor = self.latent_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)
        if height % factor or width % factor:
            raise ValueError(f"height and width must be multiples of {factor}, got {width}x{height}")

        cond = self.channel_mapper(
            one_hot(labels.to(device), self.channel_mapper.config.in_channels, dtype)
        )
        guided = guidance_scale > 1.0
        if guided:
            cond = torch.cat([torch.zeros_like(cond), cond])

        self.scheduler.set_timesteps(num_inference_steps, device=device)
        noise_t, timesteps = compvis_sdedit_start(self.scheduler.timesteps, strength)
        shape = (batch, self.unet.config.out_channels, height // self.latent_factor,
                 width // self.latent_factor)
        noise = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        # CompVis' scale_factor: diffusion runs on first-stage latents times this (1.0 for the release).
        scale = self.vqvae.config.scaling_factor
        if color is None or noise_t is None:
            latents = noise * self.scheduler.init_noise_sigma
        else:
            init = self.vqvae.encode(color.to(device=device, dtype=dtype)).latents * scale
            latents = self.scheduler.add_noise(init, noise, torch.full((batch,), noise_t, device=device))

        for i, t in enumerate(self.progress_bar(timesteps)):
            model_latents = torch.cat([latents, latents]) if guided else latents
            eps = self.unet(torch.cat([model_latents, cond], dim=1), t).sample
            if guided:
                eps_null, eps_cond = eps.chunk(2)
                eps = eps_null + guidance_scale * (eps_cond - eps_null)
            latents = self.scheduler.step(eps, t, latents, eta=eta, generator=generator).prev_sample
            if callback_on_step_end is not None:
                callback_on_step_end(self, i, t, {"latents": latents})

        images = self.vqvae.decode(latents / scale).sample.clamp(-1, 1)
        images = (images / 2 + 0.5).float()
        if output_type == "pt":
            return ImagePipelineOutput(images=images)
        array = images.permute(0, 2, 3, 1).cpu().numpy()
        if output_type == "np":
            return ImagePipelineOutput(images=array)
        return ImagePipelineOutput(
            images=[Image.fromarray(np.round(a * 255).astype(np.uint8)) for a in array]
        )
