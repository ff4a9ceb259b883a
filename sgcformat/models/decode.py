"""``generate``: the generative decode of an :class:`~sgcformat.SgcFile`.

Images are generated at the model's native scale (long side = the UNet's native
size, sides rounded to what the architecture accepts) and resized to the file's
stored size at the end. Every sample draws its noise from a fresh CPU
``torch.Generator`` seeded with its seed, so a (file, seed, profile) triple gives
the same image on CPU and GPU up to kernel differences, and a batch gives the
same images as separate calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..container import SgcFile
from ..errors import DecodeCancelled
from . import cache, loading
from .profiles import ModelProfile, model_profile

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Settings:
    """The sampling settings of one decode, after defaults and overrides."""

    steps: int
    strength: float
    guidance_scale: float
    fast: bool


def settings(sgc: SgcFile, profile: ModelProfile, steps: int | None, fast: bool) -> Settings:
    """Profile defaults, overridden by the file's PARAMS chunk, overridden by explicit arguments."""
    params = sgc.params
    if fast:
        if profile.fast is None:
            raise ValueError(f"profile {profile.name} has no fast mode")
        default_steps, guidance = profile.extra["fast_steps"], profile.extra["fast_guidance_scale"]
    else:
        default_steps = params.steps or profile.steps
        guidance = params.guidance_scale or profile.guidance_scale
    result = Settings(
        steps=steps if steps is not None else default_steps,
        strength=params.strength or profile.strength,
        guidance_scale=guidance,
        fast=fast,
    )
    if result.steps < 1 or int(result.steps * result.strength) < 1:
        raise ValueError(
            f"{result.steps} steps at strength {result.strength} leave no denoising step to run"
        )
    return result


def generation_size(size: tuple[int, int], native: int, multiple: int) -> tuple[int, int]:
    """(width, height) with the long side at ``native`` and both sides multiples of ``multiple``."""
    width, height = size
    scale = native / max(width, height)
    return tuple(max(multiple, round(side * scale / multiple) * multiple) for side in (width, height))


def generate(
    sgc: SgcFile,
    *,
    seed: int | None = None,
    steps: int | None = None,
    device: str | None = None,
    callback: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    use_cache: bool = True,
    size: tuple[int, int] | None = None,
    fast: bool = False,
    dtype: str | None = None,
) -> Image.Image:
    """Decode ``sgc`` to an RGB image at ``sgc.size`` (or ``size``).

    ``seed`` defaults to the file's stored seed, else 0. ``callback(step, total)``
    runs after each denoising step; setting ``cancel`` stops the decode with
    :class:`DecodeCancelled`. ``fast`` uses the profile's few-step mode (LCM-LoRA).
    ``dtype`` (``"fp32"``, ``"fp16"``, ``"bf16"``) sets the decoder precision; the default
    is the profile's accurate one (fp32 for the LDM everywhere, fp32 on CPU).
    Raises :class:`ModelNotFoundError` when a model component is missing.
    """
    if seed is None:
        seed = sgc.seed if sgc.seed is not None else 0
    return generate_batch(
        sgc, [seed], steps=steps, device=device, callback=callback, cancel=cancel,
        use_cache=use_cache, size=size, fast=fast, dtype=dtype,
    )[0]


def generate_batch(
    sgc: SgcFile,
    seeds: Sequence[int],
    *,
    steps: int | None = None,
    device: str | None = None,
    callback: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    use_cache: bool = True,
    size: tuple[int, int] | None = None,
    fast: bool = False,
    dtype: str | None = None,
) -> list[Image.Image]:
    """One decode per seed, run as one batch (cached images are reused, not recomputed)."""
    if dtype is not None and dtype not in loading.DTYPES:
        raise ValueError(f"unknown dtype {dtype!r} (choose from {', '.join(loading.DTYPES)})")
    seeds = [int(s) for s in seeds]
    if not seeds:
        return []
    out_size = tuple(size) if size is not None else sgc.size
    if sgc.profile == "preview":
        from .. import preview

        return [preview(sgc, out_size) for _ in seeds]
    profile = model_profile(sgc.profile)
    chosen = settings(sgc, profile, steps, fast)
    data = sgc.to_bytes()

    def key_for(seed: int) -> str:
        sources = [str(loading.local_folder(c) or c.source) for c in profile.decoder]
        return cache.key(data, seed=seed, profile=profile.name, size=out_size, sources=sources,
                         dtype=dtype or "default", **vars(chosen))

    results: dict[int, Image.Image] = {}
    if use_cache:
        for seed in seeds:
            hit = cache.get(key_for(seed))
            if hit is not None:
                results[seed] = hit
    todo = [s for s in dict.fromkeys(seeds) if s not in results]
    if todo:
        images = _run(sgc, profile, chosen, todo, device, callback, cancel, dtype)
        for seed, image in zip(todo, images, strict=True):
            image = image.convert("RGB")
            if image.size != out_size:
                image = image.resize(out_size, Image.Resampling.LANCZOS)
            results[seed] = image
            if use_cache:
                cache.put(key_for(seed), image)
    return [results[s].copy() for s in seeds]


def _run(sgc, profile, chosen: Settings, seeds, device, callback, cancel, dtype) -> list[Image.Image]:
    import torch

    if cancel is not None and cancel.is_set():
        raise DecodeCancelled("decode cancelled before it started")
    device = device or loading.default_device()
    dtype = loading.decoder_dtype(profile, device, dtype)
    total = int(chosen.steps * chosen.strength)

    def on_step(pipe, step, timestep, kwargs):
        if cancel is not None and cancel.is_set():
            raise DecodeCancelled(f"decode cancelled at step {step + 1} of {total}")
        if callback is not None:
            callback(step + 1, total)
        return kwargs

    generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    pipe, run, native = _pipeline(profile, chosen, device, dtype)
    size = generation_size(sgc.size, native, profile.size_multiple)
    with torch.inference_mode():
        return run(pipe, profile, chosen, [(sgc, len(seeds))], size, generators, on_step)


def generate_files(
    sgcs: Sequence[SgcFile],
    seeds: Sequence[Sequence[int]],
    *,
    steps: int | None = None,
    device: str | None = None,
    fast: bool = False,
    dtype: str | None = None,
) -> list[list[Image.Image]]:
    """Several *different* files decoded together: one pipeline call per (profile, settings,
    generation size), which is what keeps a GPU busy when an archive is restored.

    File ``i`` gets one image per seed of ``seeds[i]`` at its stored size, equal to
    :func:`generate_batch`'s within kernel rounding (every sample keeps its own CPU
    generator). No decode cache: an archive restores each file once.
    """
    if len(sgcs) != len(seeds):
        raise ValueError(f"{len(sgcs)} files but {len(seeds)} seed lists")
    if dtype is not None and dtype not in loading.DTYPES:
        raise ValueError(f"unknown dtype {dtype!r} (choose from {', '.join(loading.DTYPES)})")
    results: list[list[Image.Image]] = [[] for _ in sgcs]
    groups: dict[tuple[str, Settings], list[int]] = {}
    for i, sgc in enumerate(sgcs):
        if sgc.profile == "preview":
            results[i] = generate_batch(sgc, seeds[i], use_cache=False)
        elif seeds[i]:
            profile = model_profile(sgc.profile)
            groups.setdefault((profile.name, settings(sgc, profile, steps, fast)), []).append(i)
    for (name, chosen), members in groups.items():
        images = _run_files(model_profile(name), chosen, [sgcs[i] for i in members],
                            [[int(s) for s in seeds[i]] for i in members], device, dtype)
        for i, file_images in zip(members, images, strict=True):
            results[i] = [_at_size(image, sgcs[i].size) for image in file_images]
    return results


def _at_size(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    image = image.convert("RGB")
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)


def _run_files(profile: ModelProfile, chosen: Settings, sgcs: list[SgcFile], seeds: list[list[int]],
               device: str | None, dtype: str | None) -> list[list[Image.Image]]:
    """Per file, its images; one pipeline call for all files of one generation size."""
    import torch

    device = device or loading.default_device()
    dtype = loading.decoder_dtype(profile, device, dtype)
    pipe, run, native = _pipeline(profile, chosen, device, dtype)
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, sgc in enumerate(sgcs):
        by_size.setdefault(generation_size(sgc.size, native, profile.size_multiple), []).append(i)
    out: list[list[Image.Image]] = [[] for _ in sgcs]
    with torch.inference_mode():
        for size, members in by_size.items():
            files = [(sgcs[i], len(seeds[i])) for i in members]
            generators = [torch.Generator("cpu").manual_seed(s) for i in members for s in seeds[i]]
            images = iter(run(pipe, profile, chosen, files, size, generators))
            for i in members:
                out[i] = [next(images) for _ in seeds[i]]
    return out


def _pipeline(profile: ModelProfile, chosen: Settings, device: str, dtype: str):
    """The profile's pipeline, the batch runner that feeds it, and its native output size."""
    if profile.decoder[0].kind == "ldm":
        pipe = _ldm_pipeline(profile, device, dtype)
        return pipe, _ldm_files, pipe.native_size
    from . import controlnet

    pipe = controlnet.pipeline(profile, device, fast=chosen.fast, dtype=dtype)
    native = pipe.unet.config.sample_size * 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    return pipe, _controlnet_files, native


def _ldm_pipeline(profile: ModelProfile, device: str, dtype: str):
    from diffusers import DDIMScheduler

    from .ldm import LDMSemanticSynthesisPipeline

    shared = loading.load(profile.decoder[0], profile, device, dtype)
    # A pipeline object per call: the scheduler holds per-run state, the modules are shared.
    pipe = LDMSemanticSynthesisPipeline(
        unet=shared.unet, vqvae=shared.vqvae, channel_mapper=shared.channel_mapper,
        scheduler=DDIMScheduler.from_config(shared.scheduler.config),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _ldm_files(pipe, profile: ModelProfile, chosen: Settings, files, size, generators,
               on_step=None) -> list[Image.Image]:
    """Label and colour maps of every (file, sample count) stacked into one LDM batch."""
    import torch

    width, height = size
    label_rows, colour_rows = [], []
    for sgc, n in files:
        ids = Image.fromarray(np.asarray(sgc.label_map, dtype=np.int32))
        ids = np.array(ids.resize((width, height), Image.Resampling.NEAREST))
        rgb = np.array(Image.fromarray(sgc.color_map).resize((width, height), Image.Resampling.BICUBIC))
        label_rows.append(torch.from_numpy(ids.astype(np.int64))[None].expand(n, -1, -1))
        colour_rows.append(torch.from_numpy(rgb).permute(2, 0, 1).float().div(127.5).sub(1)[None]
                           .expand(n, -1, -1, -1))
    return pipe(
        torch.cat(label_rows), torch.cat(colour_rows), strength=chosen.strength,
        num_inference_steps=chosen.steps, guidance_scale=chosen.guidance_scale, eta=profile.extra["eta"],
        generator=generators, callback_on_step_end=on_step,
    ).images


def _controlnet_files(pipe, profile: ModelProfile, chosen: Settings, files, size,
                      generators, on_step=None) -> list[Image.Image]:
    """Prompt, colour init and palette control image of every (file, sample count) as one batch."""
    from . import controlnet

    prompts, inits, controls = [], [], []
    most = profile.extra["max_prompt_classes"]
    for sgc, n in files:
        prompts += [controlnet.build_prompt(sgc.label_map, sgc.vocab, most)] * n
        inits += [Image.fromarray(sgc.color_map).resize(size, Image.Resampling.BICUBIC)] * n
        controls += [controlnet.control_image(sgc.label_map, size)] * n
    return pipe(
        prompt=prompts, image=inits, control_image=controls, width=size[0], height=size[1],
        negative_prompt=None if chosen.fast else [profile.extra["negative_prompt"]] * len(prompts),
        strength=chosen.strength, num_inference_steps=chosen.steps, guidance_scale=chosen.guidance_scale,
        controlnet_conditioning_scale=profile.extra["controlnet_conditioning_scale"], generator=generators,
        callback_on_step_end=on_step,
    ).images
