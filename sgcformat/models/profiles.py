"""What each decoder profile is made of: model components, segmenter, sampling defaults.

This table is the allow-list behind :data:`sgcformat.registry.PROFILES`: a file
names a profile, and only the components listed here can ever be loaded for it.
Every hub component names a revision: a full commit hash where one is published,
else a branch or ref (``refs/pr/1``) that ``sgc models pull`` resolves to a commit
once and records in the lock file, so every later load uses exactly that commit.
Hashes here were checked against public pins of other projects; none is invented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_COMMIT = re.compile(r"[0-9a-f]{40}")

#: Where the CompVis semantic-synthesis checkpoint is published (not on the HF hub).
LDM_URL = "https://ommer-lab.com/files/latent-diffusion/semantic_synthesis.zip"


@dataclass(frozen=True)
class Component:
    """One model folder: where it comes from and how it is loaded.

    ``name`` is the stable key used for local overrides (``$SGC_MODEL_DIR/<name>``)
    and in messages. ``kind`` selects the loader in :mod:`sgcformat.models.loading`.
    ``files`` are the glob patterns ``sgc models pull`` fetches (safetensors and configs only);
    each must match at least one file of the repo at ``revision``. ``revision`` is a full
    commit hash, or a ref that the pull resolves and locks.
    """

    name: str
    kind: str
    repo: str | None
    revision: str = "main"
    files: tuple[str, ...] = ()
    description: str = ""

    @property
    def pinned(self) -> bool:
        """Whether ``revision`` is a full commit hash (else it is resolved at pull and locked)."""
        return bool(_COMMIT.fullmatch(self.revision))

    @property
    def source(self) -> str:
        if self.repo is None:
            return "local only (convert with `sgc models convert-ldm`)"
        return f"{self.repo}@{self.revision}"


@dataclass(frozen=True)
class ModelProfile:
    """A decoder profile: its components, its segmenter and its default sampling parameters."""

    name: str
    vocab: str
    decoder: tuple[Component, ...]
    segmenter: Component
    steps: int
    strength: float
    guidance_scale: float
    #: Generated sizes are multiples of this many pixels (latent factor × UNet downsampling).
    size_multiple: int
    extra: dict = field(default_factory=dict, compare=False)
    fast: Component | None = None
    #: Decoder precision on accelerators when none is asked for (the CPU always defaults to fp32).
    accelerator_dtype: str = "fp32"

    @property
    def components(self) -> tuple[Component, ...]:
        optional = (self.fast,) if self.fast else ()
        return (*self.decoder, self.segmenter, *optional)

    def fetch_command(self, component: Component) -> str:
        """How a user gets ``component``: the pull command, or where the LDM zip comes from."""
        if component.repo is None:
            return (f"download {LDM_URL} (the CompVis latent-diffusion release), "
                    "then sgc models convert-ldm semantic_synthesis.zip")
        return f"sgc models pull {self.name}"


LDM = Component(
    name="ldm-semantic-512",
    kind="ldm",
    repo=None,
    description="CompVis latent-diffusion semantic synthesis, COCO-Stuff 182, 512 px fine-tune",
)

SD15 = Component(
    name="sd15",
    kind="sd15",
    repo="stable-diffusion-v1-5/stable-diffusion-v1-5",
    revision="451f4fe16113bff5a5d2269ed5ad43b0592e9a14",
    files=(
        "model_index.json",
        "scheduler/scheduler_config.json",
        "tokenizer/*",
        "text_encoder/config.json",
        "text_encoder/model.safetensors",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ),
    description="Stable Diffusion 1.5 (text encoder, UNet, VAE, tokenizer)",
)

CONTROLNET_SEG = Component(
    name="controlnet-seg",
    kind="controlnet",
    repo="lllyasviel/control_v11p_sd15_seg",
    revision="210682041b41097834006a910b8773f423343900",
    files=("config.json", "diffusion_pytorch_model.safetensors"),
    description="ControlNet 1.1 segmentation (ADE20K palette)",
)

LCM_LORA = Component(
    name="lcm-lora-sd15",
    kind="lora",
    repo="latent-consistency/lcm-lora-sdv1-5",
    revision="cf2fced511dbe7e26c8d1d397e728fbab875db4b",
    files=("pytorch_lora_weights.safetensors",),
    description="LCM-LoRA for SD 1.5: 4-step sampling (optional)",
)

UPERNET_ADE = Component(
    name="upernet-convnext-small",
    kind="upernet",
    repo="openmmlab/upernet-convnext-small",
    # main has only pytorch_model.bin; the hub's safetensors conversion PR has model.safetensors.
    revision="refs/pr/1",
    files=("config.json", "preprocessor_config.json", "model.safetensors"),
    description="UperNet ConvNeXt-S, ADE20K-150 segmenter",
)

MASKFORMER_COCO = Component(
    name="maskformer-coco-stuff",
    kind="maskformer",
    repo="facebook/maskformer-resnet101-coco-stuff",
    revision="main",  # no published commit found: resolved at pull, locked
    files=("config.json", "preprocessor_config.json", "model.safetensors"),
    description="MaskFormer R101, COCO-Stuff (171 used classes mapped onto the 182 ids by name)",
)

PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile(
            name="ldm-semantic-512",
            vocab="coco-stuff-182",
            decoder=(LDM,),
            segmenter=MASKFORMER_COCO,
            # The paper: 200 DDIM steps, SDEdit from 70 % of T, guidance scale 2.
            steps=200,
            strength=0.7,
            guidance_scale=2.0,
            size_multiple=16,
            # Trained and sampled in fp32 (CompVis' GroupNorm32 upcasts); halves change its output.
            accelerator_dtype="fp32",
            extra={"eta": 0.0},
        ),
        ModelProfile(
            name="sd15-controlnet-seg",
            vocab="ade20k-150",
            decoder=(SD15, CONTROLNET_SEG),
            segmenter=UPERNET_ADE,
            steps=20,
            strength=0.8,
            guidance_scale=7.0,
            size_multiple=8,
            # SD 1.5 is run in half precision by its reference scripts (autocast) and diffusers' docs.
            accelerator_dtype="fp16",
            extra={
                "controlnet_conditioning_scale": 1.0,
                "negative_prompt": "blurry, low quality, distorted, watermark, text",
                "max_prompt_classes": 8,
                "fast_steps": 4,
                "fast_guidance_scale": 1.0,
            },
            fast=LCM_LORA,
        ),
    )
}


def model_profile(name: str) -> ModelProfile:
    """The model profile ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"no generative model for profile {name!r} (known: {', '.join(PROFILES)})") from None
