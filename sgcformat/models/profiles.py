"""What each decoder profile is made of: model components, segmenter, sampling defaults.

This table is the allow-list behind :data:`sgcformat.registry.PROFILES`: a file
names a profile, and only the components listed here can ever be loaded for it.
Hub components are pinned to a revision where one could be verified; a component
whose revision is ``None`` follows the hub's ``main`` branch until one is pinned
(``sgc models list`` shows which).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Component:
    """One model folder: where it comes from and how it is loaded.

    ``name`` is the stable key used for local overrides (``$SGC_MODEL_DIR/<name>``)
    and in messages. ``kind`` selects the loader in :mod:`sgcformat.models.loading`.
    ``files`` are the glob patterns ``sgc models pull`` fetches (safetensors and configs only).
    """

    name: str
    kind: str
    repo: str | None
    revision: str | None = None
    files: tuple[str, ...] = ()
    description: str = ""

    @property
    def source(self) -> str:
        if self.repo is None:
            return "local only (convert with `sgc models convert-ldm`)"
        return f"{self.repo}@{self.revision or 'main (unpinned)'}"


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

    @property
    def components(self) -> tuple[Component, ...]:
        optional = (self.fast,) if self.fast else ()
        return (*self.decoder, self.segmenter, *optional)

    def fetch_command(self, component: Component) -> str:
        """The command a user runs to get ``component``."""
        if component.repo is None:
            return "sgc models convert-ldm semantic_synthesis.zip"
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
    files=("config.json", "preprocessor_config.json", "model.safetensors"),
    description="UperNet ConvNeXt-S, ADE20K-150 segmenter",
)

MASKFORMER_COCO = Component(
    name="maskformer-coco-stuff",
    kind="maskformer",
    repo="facebook/maskformer-resnet101-coco-stuff",
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
