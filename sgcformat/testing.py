"""Tiny random-weight models for every profile, so the whole pipeline runs offline in tests.

:func:`build_tiny_models` writes one folder per model component, built from small
configs with the real model classes and saved with ``save_pretrained`` in
safetensors; :func:`use_tiny_models` points the registry at them (through the
same ``$SGC_MODEL_DIR`` override users have), so every load goes through the real
loading code. The images they produce are noise-like: they check plumbing,
shapes, determinism and speed, never image quality.

In a pytest suite: ``pytest_plugins = ["sgcformat.testing"]`` in ``conftest.py``
gives the fixtures ``tiny_model_dir`` (session-wide folder) and ``tiny_models``
(the override active for one test).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Native (long-side) generation size of the tiny models, in pixels.
TINY_NATIVE_SIZE = 64


def build_tiny_models(root: str | os.PathLike) -> dict[str, Path]:
    """Write tiny models for every component of every profile under ``root``; name → folder."""
    import torch

    from .models.profiles import PROFILES

    root = Path(root)
    torch.manual_seed(0)
    builders = {
        "ldm-semantic-512": _tiny_ldm,
        "sd15": _tiny_sd15,
        "controlnet-seg": _tiny_controlnet,
        "lcm-lora-sd15": _tiny_lcm_lora,
        "upernet-convnext-small": _tiny_upernet,
        "maskformer-coco-stuff": _tiny_maskformer,
    }
    wanted = {c.name for p in PROFILES.values() for c in p.components}
    if wanted != set(builders):
        raise RuntimeError(f"tiny builders out of date: {sorted(wanted ^ set(builders))}")
    folders = {}
    for name, build in builders.items():
        folders[name] = root / name
        build(folders[name])
    return folders


@contextmanager
def use_tiny_models(root: str | os.PathLike) -> Iterator[Path]:
    """Within the block, load models from ``root`` only (and cache decodes under ``root``).

    Sets ``SGC_MODEL_DIR``, a non-existent ``SGC_MODELS_CONFIG`` (so a user's
    config cannot interfere), ``SGC_CACHE_DIR``, an empty ``HF_HUB_CACHE`` (so the
    user's hub cache and lock file cannot either) and ``HF_HUB_OFFLINE``; restores
    them and forgets the loaded models on exit.
    """
    from .models import loading

    root = Path(root)
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    os.environ.update(
        SGC_MODEL_DIR=str(root),
        SGC_MODELS_CONFIG=str(root / "no-user-config.json"),
        SGC_CACHE_DIR=str(root / "decoded-cache"),
        HF_HUB_CACHE=str(root / "hf-hub-cache"),
        HF_HUB_OFFLINE="1",
    )
    loading.clear()
    try:
        yield root
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        loading.clear()


_ENV_KEYS = ("SGC_MODEL_DIR", "SGC_MODELS_CONFIG", "SGC_CACHE_DIR", "HF_HUB_CACHE", "HF_HUB_OFFLINE")


# --- builders ----------------------------------------------------------------------------


def tiny_ldm_parts():
    """Unsaved tiny (unet, vqvae, channel_mapper, scheduler) of the LDM architecture."""
    from diffusers import DDIMScheduler, UNet2DModel, VQModel

    from .models.ldm import SegmentationChannelMapper

    unet = UNet2DModel(
        sample_size=TINY_NATIVE_SIZE // 4, in_channels=6, out_channels=3,
        block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2,
        attention_head_dim=16, norm_num_groups=8,
    )
    vqvae = VQModel(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(8, 16, 16),
        layers_per_block=1, latent_channels=3, num_vq_embeddings=64, vq_embed_dim=3,
        norm_num_groups=8, sample_size=TINY_NATIVE_SIZE, scaling_factor=1.0,  # the release's
    )
    mapper = SegmentationChannelMapper(in_channels=182, out_channels=3, n_stages=2)
    scheduler = DDIMScheduler(
        num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0205, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading",
    )
    return unet, vqvae, mapper, scheduler


def _tiny_ldm(folder: Path) -> None:
    from .models.ldm import LDMSemanticSynthesisPipeline

    unet, vqvae, mapper, scheduler = tiny_ldm_parts()
    LDMSemanticSynthesisPipeline(unet=unet, vqvae=vqvae, channel_mapper=mapper, scheduler=scheduler) \
        .save_pretrained(folder, safe_serialization=True)


def _tiny_sd_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=TINY_NATIVE_SIZE // 2,
        in_channels=4, out_channels=4, norm_num_groups=8, cross_attention_dim=32,
        attention_head_dim=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    )


def _tiny_sd15(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel

    _tiny_sd_unet().save_pretrained(folder / "unet", safe_serialization=True)
    vae = AutoencoderKL(
        block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8, sample_size=TINY_NATIVE_SIZE,
    )
    # Make the random VAE behave like a trained one where img2img depends on it: a nearly
    # deterministic posterior (log-variance pinned to -20), and a scaling factor that gives
    # the latents unit variance (how SD's 0.18215 was chosen).
    with torch.no_grad():
        vae.quant_conv.weight[4:].zero_()
        vae.quant_conv.bias[4:].fill_(-20.0)
        side = TINY_NATIVE_SIZE
        probe = torch.rand(4, 3, side, side, generator=torch.Generator().manual_seed(0))
        latent_std = vae.encode(probe * 2 - 1).latent_dist.mean.std().item()
    vae.register_to_config(scaling_factor=1.0 / latent_std)
    vae.save_pretrained(folder / "vae", safe_serialization=True)
    CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=1000, max_position_embeddings=77,
    )).save_pretrained(folder / "text_encoder", safe_serialization=True)
    _tiny_clip_tokenizer(folder / "tokenizer")
    DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=False, steps_offset=1,
    ).save_pretrained(folder / "scheduler")


def _tiny_clip_tokenizer(folder: Path) -> None:
    """A byte-level CLIP tokenizer without merges: every character is a token."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = [chr(c) for c in _bytes_to_unicode()]
    vocab = {tok: i for i, tok in enumerate(
        ["<|startoftext|>", "<|endoftext|>", *chars, *(c + "</w>" for c in chars)]
    )}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"),
        model_max_length=77,
    )
    tokenizer.save_pretrained(folder)


def _bytes_to_unicode() -> list[int]:
    """GPT-2/CLIP's reversible byte → printable code point table."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    extra = 0
    points = []
    for b in range(256):
        if b in printable:
            points.append(b)
        else:
            points.append(256 + extra)
            extra += 1
    return points


def _tiny_controlnet(folder: Path) -> None:
    from diffusers import ControlNetModel

    ControlNetModel(
        block_out_channels=(16, 32), layers_per_block=1, in_channels=4, norm_num_groups=8,
        cross_attention_dim=32, attention_head_dim=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        conditioning_embedding_out_channels=(8, 16),
    ).save_pretrained(folder, safe_serialization=True)


def _tiny_lcm_lora(folder: Path) -> None:
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = _tiny_sd_unet()
    # init_lora_weights=False: random up (lora_B) weights too. The default init zeroes them,
    # which makes the LoRA a no-op, and a broken LoRA load would then pass every test.
    unet.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights=False,
                                target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    StableDiffusionPipeline.save_lora_weights(
        folder, unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)),
        safe_serialization=True,
    )


def _tiny_upernet(folder: Path) -> None:
    from transformers import ConvNextConfig, UperNetConfig, UperNetForSemanticSegmentation
    from transformers.models.segformer.image_processing_pil_segformer import (
        SegformerImageProcessorPil,
    )

    from .registry import vocabulary

    names = vocabulary("ade20k-150").class_names
    config = UperNetConfig(
        backbone_config=ConvNextConfig(
            hidden_sizes=[16, 32], depths=[1, 1], num_stages=2, out_features=["stage1", "stage2"]
        ),
        hidden_size=16, pool_scales=[1, 2], use_auxiliary_head=False, num_labels=len(names),
        id2label={i: n.split(";")[0] for i, n in enumerate(names)},
    )
    UperNetForSemanticSegmentation(config).save_pretrained(folder, safe_serialization=True)
    SegformerImageProcessorPil(size={"height": 64, "width": 64}).save_pretrained(folder)


def _tiny_maskformer(folder: Path) -> None:
    from transformers import (
        DetrConfig,
        MaskFormerConfig,
        MaskFormerForInstanceSegmentation,
        SwinConfig,
    )
    from transformers.models.maskformer.image_processing_pil_maskformer import (
        MaskFormerImageProcessorPil,
    )

    from .models.segmenters import COCO_STUFF_UNUSED
    from .registry import vocabulary

    # The hub model predicts the 171 used COCO-Stuff classes; mimic that id2label.
    used = [n for i, n in enumerate(vocabulary("coco-stuff-182").class_names)
            if i not in COCO_STUFF_UNUSED]
    config = MaskFormerConfig(
        backbone_config=SwinConfig(
            image_size=64, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=2,
            out_features=["stage1", "stage2", "stage3", "stage4"],
        ),
        decoder_config=DetrConfig(d_model=32, decoder_layers=1, decoder_ffn_dim=32,
                                  decoder_attention_heads=2, num_queries=8),
        fpn_feature_size=32, mask_feature_size=32, num_queries=8, num_labels=len(used),
        id2label=dict(enumerate(used)),
    )
    MaskFormerForInstanceSegmentation(config).save_pretrained(folder, safe_serialization=True)
    MaskFormerImageProcessorPil(
        size={"shortest_edge": 64, "longest_edge": 128}, size_divisor=32, do_reduce_labels=False
    ).save_pretrained(folder)


# --- pytest plugin ------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixtures
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="session")
    def tiny_model_dir(tmp_path_factory) -> Path:
        """Tiny models for every profile, built once per test session."""
        root = tmp_path_factory.mktemp("sgc-tiny-models")
        build_tiny_models(root)
        return root

    @pytest.fixture
    def tiny_models(tiny_model_dir: Path) -> Iterator[Path]:
        """The registry points at the tiny models for the duration of one test."""
        with use_tiny_models(tiny_model_dir) as root:
            yield root
