"""Convert the CompVis semantic-synthesis checkpoint to the diffusers folder we load.

Input: ``semantic_synthesis.zip`` (with ``model.ckpt`` inside) or a bare ``model.ckpt``
from CompVis/latent-diffusion. Output: ``unet/``, ``vqvae/``, ``channel_mapper/``,
``scheduler/`` and ``model_index.json``, weights in safetensors.

The architecture is read from the checkpoint's tensor shapes (channels, levels,
blocks per level, codebook size), so the same code converts the released model and
the tiny checkpoints of the tests; only the number of attention heads is not in the
shapes (``num_heads``, 8 for the released model). Every checkpoint tensor of the
UNet, first stage and condition stage must be consumed and every diffusers
parameter filled, or the conversion fails: nothing is silently dropped. EMA weights
(``model_ema.*``) replace the raw UNet weights when the checkpoint has a full set; a
partial set is an error unless ``use_ema=False`` (``--no-ema``), since a silent fallback
would hand out the raw weights under the EMA model's name. The DDIM sampler's buffers
(``ddim_*``, saved by some released checkpoints) are skipped: they are derived from the
schedule and recomputed by the scheduler. ``scale_factor`` (CompVis multiplies first-stage
latents by it before diffusion and divides before decoding) is carried into the VQ
model's ``scaling_factor``, which the pipeline applies the same way.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path

import torch

from ..errors import SgcError

UNET = "model.diffusion_model."
VQ = "first_stage_model."
MAPPER = "cond_stage_model.channel_mapper.weight"
EMA = "model_ema."
#: LitEma's own counters, present beside a full set of EMA weights.
EMA_COUNTERS = frozenset({"model_ema.decay", "model_ema.num_updates"})
#: Checkpoint entries that are not weights of the three models (schedule and sampler buffers,
#: EMA state, the latent scale handled by :func:`_scale_factor`).
IGNORED = re.compile(
    r"^(betas|alphas_cumprod|alphas_cumprod_prev|sqrt_.*|log_one_minus_alphas_cumprod|"
    r"posterior_.*|logvar|lvlb_weights|scale_factor|model_ema\..*|"
    r"ddim_sigmas|ddim_alphas|ddim_alphas_prev|ddim_sqrt_one_minus_alphas|"
    r"ddim_sigmas_for_original_num_steps)$"
)


class ConversionError(SgcError, ValueError):
    """The checkpoint does not have the CompVis semantic-synthesis layout."""


def load_checkpoint(path: str | Path, *, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The state dict of a ``.ckpt`` or of the ``.ckpt`` inside a ``.zip``.

    Checkpoints are pickles; they are read with ``weights_only=True`` (tensors and
    plain containers only). ``trust_pickle`` lifts that for a file you trust, since
    Lightning checkpoints may hold other objects.
    """
    path = Path(path)
    if zipfile.is_zipfile(path) and not _is_torch_zip(path):
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as tmp:
            names = [n for n in archive.namelist() if n.endswith(".ckpt")]
            if len(names) != 1:
                raise ConversionError(f"{path} should contain exactly one .ckpt file, found {names}")
            return load_checkpoint(archive.extract(names[0], tmp), trust_pickle=trust_pickle)
    try:
        data = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as exc:
        hint = "" if trust_pickle else " (if you trust the file, retry with --trust-pickle)"
        raise ConversionError(f"cannot read checkpoint {path}: {exc}{hint}") from exc
    state = data.get("state_dict", data) if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise ConversionError(f"{path} holds no state dict")
    return state


def _is_torch_zip(path: Path) -> bool:
    """torch.save files are zips too: they hold a ``*/data.pkl``."""
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("data.pkl") for n in archive.namelist())


def convert(
    checkpoint: str | Path | dict[str, torch.Tensor],
    outdir: str | Path,
    *,
    num_heads: int = 8,
    image_size: int = 512,
    use_ema: bool = True,
    trust_pickle: bool = False,
) -> Path:
    """Convert ``checkpoint`` (path or state dict) and save the diffusers folder at ``outdir``.

    ``image_size`` is the resolution the model was trained at (512 for ``semantic_synthesis512``);
    it becomes the UNet's native sample size, which sets the generation scale.
    """
    from diffusers import DDIMScheduler, UNet2DModel, VQModel

    from .ldm import LDMSemanticSynthesisPipeline, SegmentationChannelMapper

    state = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(
        checkpoint, trust_pickle=trust_pickle
    )
    unknown = [k for k in state if not (k.startswith((UNET, VQ)) or k == MAPPER or IGNORED.match(k))]
    if unknown:
        raise ConversionError(f"unexpected checkpoint entries: {unknown[:5]}")
    if MAPPER not in state:
        raise ConversionError(f"no {MAPPER}: not a semantic-synthesis (SpatialRescaler) checkpoint")

    vq_sd = {k[len(VQ):]: v for k, v in state.items() if k.startswith(VQ)}
    vq_config = _vq_config(vq_sd)
    vq_config["scaling_factor"] = _scale_factor(state)
    levels = len(vq_config["block_out_channels"]) - 1
    unet_sd = _unet_weights(state, use_ema)
    unet_config = _unet_config(unet_sd, num_heads, image_size // 2**levels)
    mapper_weight = state[MAPPER]

    unet = UNet2DModel(**unet_config)
    _fill(unet, convert_unet_state(unet_sd, unet_config), "UNet")
    vqvae = VQModel(**vq_config)
    _fill(vqvae, convert_vq_state(vq_sd, len(vq_config["block_out_channels"])), "VQ first stage")
    mapper = SegmentationChannelMapper(
        in_channels=mapper_weight.shape[1], out_channels=mapper_weight.shape[0], n_stages=levels
    )
    _fill(mapper, {"channel_mapper.weight": mapper_weight}, "channel mapper")
    pipe = LDMSemanticSynthesisPipeline(
        unet=unet, vqvae=vqvae, channel_mapper=mapper, scheduler=DDIMScheduler(**_schedule(state))
    )
    outdir = Path(outdir)
    pipe.save_pretrained(outdir, safe_serialization=True)
    return outdir


def _unet_weights(state: dict, use_ema: bool) -> dict[str, torch.Tensor]:
    """The EMA UNet weights when the checkpoint has them all, the raw ones when it has none."""
    raw = {k[len(UNET):]: v for k, v in state.items() if k.startswith(UNET)}
    if not raw:
        raise ConversionError(f"no {UNET}* weights in the checkpoint")
    if not use_ema:
        return raw
    # LitEma names a parameter by its module path without dots.
    names = {k: EMA + ("diffusion_model." + k).replace(".", "") for k in raw}
    present = {k for k in state if k.startswith(EMA)} - EMA_COUNTERS
    if not present:
        return raw
    found = present & set(names.values())
    if found != set(names.values()) or present != found:
        raise ConversionError(
            f"partial EMA weights: {len(found)} of {len(names)} UNet tensors have a {EMA}* copy "
            f"({len(present - found)} {EMA}* entries match none); pass --no-ema to use the raw weights"
        )
    return {k: state[name] for k, name in names.items()}


def _scale_factor(state: dict) -> float:
    """CompVis' latent ``scale_factor`` (1.0 when absent), refused when not a positive number."""
    value = state.get("scale_factor")
    if value is None:
        return 1.0
    value = torch.as_tensor(value)
    if value.numel() != 1 or not torch.isfinite(value).all() or float(value) <= 0:
        raise ConversionError(f"scale_factor must be one positive number, got {value.tolist()}")
    return float(value)


def _schedule(state: dict) -> dict:
    """DDIM settings equal to CompVis' DDIM sampler; betas are checked against the checkpoint's."""
    config = dict(
        num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0205, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading",
    )
    betas = state.get("betas")
    if betas is not None:
        betas = betas.double()
        config.update(num_train_timesteps=len(betas), beta_start=float(betas[0]), beta_end=float(betas[-1]))
        expected = torch.linspace(config["beta_start"] ** 0.5, config["beta_end"] ** 0.5, len(betas),
                                  dtype=torch.float64) ** 2
        if not torch.allclose(betas, expected, rtol=1e-4, atol=1e-7):
            raise ConversionError("the checkpoint's betas are not a sqrt-linear (scaled_linear) schedule")
    return config


def _fill(module: torch.nn.Module, weights: dict[str, torch.Tensor], what: str) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise ConversionError(f"{what}: unmapped parameters {missing[:4]}, leftover tensors {extra[:4]}")
    for name, tensor in weights.items():
        if tensor.shape != expected[name].shape:
            raise ConversionError(f"{what}: {name} has shape {tuple(tensor.shape)}, "
                                  f"expected {tuple(expected[name].shape)}")
    module.load_state_dict({k: v.float().contiguous() for k, v in weights.items()}, strict=True)


# --- UNet (openaimodel.UNetModel → UNet2DModel) -------------------------------------------


def _input_block_kinds(sd: dict) -> list[str]:
    """'conv_in', 'res' or 'down' for each ``input_blocks.N``; attention blocks are unsupported."""
    count = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("input_blocks."))
    kinds = []
    for n in range(count):
        prefix = f"input_blocks.{n}."
        keys = [k for k in sd if k.startswith(prefix)]
        if any(k.startswith(prefix + "1.") for k in keys):
            raise ConversionError("attention in the UNet's down path is not supported by this converter")
        if n == 0:
            kinds.append("conv_in")
        elif f"{prefix}0.op.weight" in sd:
            kinds.append("down")
        else:
            kinds.append("res")
    return kinds


def _unet_config(sd: dict, num_heads: int, sample_size: int) -> dict:
    kinds = _input_block_kinds(sd)
    levels: list[list[int]] = [[]]
    for n, kind in enumerate(kinds):
        if kind == "res":
            levels[-1].append(n)
        elif kind == "down":
            levels.append([])
    if len({len(level) for level in levels}) != 1:
        raise ConversionError(f"uneven residual blocks per level: {[len(x) for x in levels]}")
    channels = tuple(sd[f"input_blocks.{level[0]}.0.out_layers.3.weight"].shape[0] for level in levels)
    mid = sd["middle_block.1.norm.weight"].shape[0]
    return dict(
        sample_size=sample_size,
        in_channels=sd["input_blocks.0.0.weight"].shape[1],
        out_channels=sd["out.2.weight"].shape[0],
        block_out_channels=channels,
        layers_per_block=len(levels[0]),
        down_block_types=("DownBlock2D",) * len(channels),
        up_block_types=("UpBlock2D",) * len(channels),
        attention_head_dim=mid // num_heads,
        norm_num_groups=32,
    )


_RESNET = {
    "in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
    "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut",
}


def _resnet(sd: dict, src: str, dst: str, out: dict) -> None:
    for key, value in sd.items():
        if key.startswith(src + "."):
            rest = key[len(src) + 1:]
            layer, param = rest.rsplit(".", 1)
            out[f"{dst}.{_RESNET[layer]}.{param}"] = value


def _legacy_attention(sd: dict, src: str, dst: str, heads: int, out: dict) -> None:
    """``AttentionBlock`` (norm, qkv conv1d in per-head [q k v] order, proj_out) → ``Attention``."""
    out[f"{dst}.group_norm.weight"] = sd[f"{src}.norm.weight"]
    out[f"{dst}.group_norm.bias"] = sd[f"{src}.norm.bias"]
    for param in ("weight", "bias"):
        qkv = sd[f"{src}.qkv.{param}"]
        channels = qkv.shape[0] // 3
        per_head = qkv.reshape(heads, 3, channels // heads, *qkv.shape[1:])
        for i, name in enumerate(("to_q", "to_k", "to_v")):
            tensor = per_head[:, i].reshape(channels, *qkv.shape[1:])
            out[f"{dst}.{name}.{param}"] = tensor[..., 0] if param == "weight" else tensor
        proj = sd[f"{src}.proj_out.{param}"]
        out[f"{dst}.to_out.0.{param}"] = proj[..., 0] if param == "weight" else proj


def convert_unet_state(sd: dict, config: dict) -> dict[str, torch.Tensor]:
    """CompVis UNet keys (without ``model.diffusion_model.``) → :class:`UNet2DModel` keys."""
    out: dict[str, torch.Tensor] = {}
    consumed_prefixes = []

    def take(src: str, dst: str) -> None:
        for param in ("weight", "bias"):
            out[f"{dst}.{param}"] = sd[f"{src}.{param}"]
        consumed_prefixes.append(src + ".")

    take("time_embed.0", "time_embedding.linear_1")
    take("time_embed.2", "time_embedding.linear_2")
    take("input_blocks.0.0", "conv_in")
    per, levels = config["layers_per_block"], len(config["block_out_channels"])
    heads = config["block_out_channels"][-1] // config["attention_head_dim"]
    n = 1
    for level in range(levels):
        for j in range(per):
            _resnet(sd, f"input_blocks.{n}.0", f"down_blocks.{level}.resnets.{j}", out)
            consumed_prefixes.append(f"input_blocks.{n}.0.")
            n += 1
        if level < levels - 1:
            take(f"input_blocks.{n}.0.op", f"down_blocks.{level}.downsamplers.0.conv")
            n += 1
    _resnet(sd, "middle_block.0", "mid_block.resnets.0", out)
    _legacy_attention(sd, "middle_block.1", "mid_block.attentions.0", heads, out)
    _resnet(sd, "middle_block.2", "mid_block.resnets.1", out)
    consumed_prefixes += ["middle_block."]
    n = 0
    for level in range(levels):
        for j in range(per + 1):
            _resnet(sd, f"output_blocks.{n}.0", f"up_blocks.{level}.resnets.{j}", out)
            consumed_prefixes.append(f"output_blocks.{n}.0.")
            if j == per and level < levels - 1:
                take(f"output_blocks.{n}.1.conv", f"up_blocks.{level}.upsamplers.0.conv")
            n += 1
    take("out.0", "conv_norm_out")
    take("out.2", "conv_out")
    leftover = [k for k in sd if not k.startswith(tuple(consumed_prefixes))]
    if leftover:
        raise ConversionError(f"UNet: checkpoint tensors not mapped: {leftover[:5]}")
    return out


# --- VQ first stage (taming Encoder/Decoder → VQModel) ------------------------------------


def _vq_config(sd: dict) -> dict:
    levels = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("encoder.down."))
    channels = [sd[f"encoder.down.{i}.block.0.conv2.weight"].shape[0] for i in range(levels)]
    blocks = 1 + max(int(k.split(".")[4]) for k in sd if k.startswith("encoder.down.0.block."))
    n_embed, embed_dim = sd["quantize.embedding.weight"].shape
    return dict(
        in_channels=sd["encoder.conv_in.weight"].shape[1],
        out_channels=sd["decoder.conv_out.weight"].shape[0],
        down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels,
        block_out_channels=tuple(channels),
        layers_per_block=blocks,
        latent_channels=sd["encoder.conv_out.weight"].shape[0],
        num_vq_embeddings=n_embed,
        vq_embed_dim=embed_dim,
        norm_num_groups=32,
    )


_VQ_RESNET = {"norm1": "norm1", "conv1": "conv1", "norm2": "norm2", "conv2": "conv2",
              "nin_shortcut": "conv_shortcut"}
_VQ_ATTN = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}


def convert_vq_state(sd: dict, levels: int) -> dict[str, torch.Tensor]:
    """taming-transformers VQ keys (without ``first_stage_model.``) → :class:`VQModel` keys."""
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        new = _vq_key(key, levels)
        if new is None:
            raise ConversionError(f"VQ first stage: checkpoint tensor not mapped: {key}")
        if new.endswith(("to_q.weight", "to_k.weight", "to_v.weight", "to_out.0.weight")):
            value = value[..., 0, 0]
        out[new] = value
    return out


def _vq_key(key: str, levels: int) -> str | None:
    parts = key.split(".")
    if parts[0] in ("quant_conv", "post_quant_conv") or key == "quantize.embedding.weight":
        return key
    if parts[0] not in ("encoder", "decoder"):
        return None
    side, rest = parts[0], parts[1:]
    if rest[0] in ("conv_in", "conv_out"):
        return key
    if rest[0] == "norm_out":
        return f"{side}.conv_norm_out.{rest[1]}"
    if rest[0] == "mid":
        block, layer, param = rest[1], rest[2], rest[-1]
        if block.startswith("block_"):
            index = int(block[-1]) - 1
            return f"{side}.mid_block.resnets.{index}.{_VQ_RESNET[layer]}.{param}"
        if block == "attn_1" and layer in _VQ_ATTN:
            return f"{side}.mid_block.attentions.0.{_VQ_ATTN[layer]}.{param}"
        return None
    if rest[0] in ("down", "up"):
        level = int(rest[1])
        target = (f"{side}.down_blocks.{level}" if side == "encoder"
                  else f"{side}.up_blocks.{levels - 1 - level}")
        if rest[2] == "block" and rest[4] in _VQ_RESNET:
            return f"{target}.resnets.{rest[3]}.{_VQ_RESNET[rest[4]]}.{rest[-1]}"
        if rest[2] in ("downsample", "upsample") and rest[3] == "conv":
            kind = "downsamplers" if rest[2] == "downsample" else "upsamplers"
            return f"{target}.{kind}.0.conv.{rest[-1]}"
    return None
