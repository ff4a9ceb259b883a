"""Finding and loading model components: local overrides, the HF cache, once per process.

Where a component's folder comes from, first match wins:

1. ``paths`` in the config file (``$SGC_MODELS_CONFIG``, else ``models.json`` in the
   platformdirs user config dir): ``{"paths": {"sd15": "/models/sd15"}}``;
2. ``$SGC_MODEL_DIR/<component name>`` (``os.pathsep``-separated list of roots);
3. ``model_dir`` of the config file, then the user data dir
   (``<user data>/sgcformat/models/<component name>``, where ``convert-ldm`` writes);
4. the component's hub repo at its pinned revision: the local HF cache first,
   then a download unless ``HF_HUB_OFFLINE`` is set.

Weights load as safetensors only and never with ``trust_remote_code``. Loaded
components are cached per (component, folder, device, dtype) and shared by every
decode in the process; loading is serialised per key, so concurrent first uses
load once.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ModelNotFoundError
from .profiles import Component, ModelProfile

APP_NAME = "sgcformat"

_cache: dict[tuple, Any] = {}
_key_locks: dict[tuple, threading.Lock] = {}
_cache_lock = threading.Lock()


def config_path() -> Path:
    """The model configuration file (may not exist)."""
    if os.environ.get("SGC_MODELS_CONFIG"):
        return Path(os.environ["SGC_MODELS_CONFIG"])
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "models.json"


def user_model_dir() -> Path:
    """Default home of local-only components (the converted LDM)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME)) / "models"


def _read_config() -> dict:
    path = config_path()
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot read model config {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelNotFoundError(f"model config {path} must hold a JSON object")
    return config


def local_folder(component: Component) -> Path | None:
    """The local folder configured for ``component``, if any (steps 1-3 above)."""
    config = _read_config()
    explicit = config.get("paths", {}).get(component.name)
    if explicit:
        return Path(explicit).expanduser()
    roots = [r for r in os.environ.get("SGC_MODEL_DIR", "").split(os.pathsep) if r]
    if config.get("model_dir"):
        roots.append(config["model_dir"])
    roots.append(str(user_model_dir()))
    for root in roots:
        candidate = Path(root).expanduser() / component.name
        if candidate.is_dir():
            return candidate
    return None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_snapshot(component: Component, *, download: bool) -> Path:
    """The component's folder in the HF cache, downloading its allowed files if asked."""
    from huggingface_hub import snapshot_download

    kwargs: dict[str, Any] = dict(
        repo_id=component.repo, revision=component.revision, allow_patterns=list(component.files)
    )
    try:
        return Path(snapshot_download(local_files_only=True, **kwargs))
    except Exception:
        if not download or _offline():
            raise
    return Path(snapshot_download(**kwargs))


def resolve(component: Component, profile: ModelProfile, *, download: bool = True) -> Path:
    """The folder to load ``component`` from; :class:`ModelNotFoundError` when there is none."""
    folder = local_folder(component)
    if folder is not None:
        if not folder.is_dir():
            raise _missing(component, profile, f"configured folder {folder} does not exist")
        return folder
    if component.repo is None:
        raise _missing(component, profile, "not found locally")
    try:
        return hub_snapshot(component, download=download)
    except Exception as exc:
        reason = "not in the local cache and the hub is unreachable or offline"
        raise _missing(component, profile, reason) from exc


def is_available(component: Component) -> bool:
    """Whether ``component`` can be loaded without a download."""
    if local_folder(component) is not None:
        return True
    if component.repo is None:
        return False
    try:
        hub_snapshot(component, download=False)
    except Exception:
        return False
    return True


def _missing(component: Component, profile: ModelProfile, reason: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"model component '{component.name}' ({component.source}) of profile {profile.name} "
        f"is missing: {reason}; get it with: {profile.fetch_command(component)}"
    )


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_dtype(device: str):
    """Half precision on accelerators, float32 on CPU."""
    import torch

    return torch.float32 if device.split(":")[0] == "cpu" else torch.float16


def load(component: Component, profile: ModelProfile, device: str) -> Any:
    """Load ``component`` on ``device`` once per process and return the shared object."""
    import torch

    dtype = default_dtype(device)
    folder = resolve(component, profile)

    def load_folder():
        try:
            with torch.inference_mode(False):
                return _LOADERS[component.kind](folder, device, dtype)
        except (OSError, ValueError, KeyError) as exc:
            raise _missing(component, profile, f"cannot load {folder}: {_first_line(exc)}") from exc

    return shared((component.name, str(folder), device, str(dtype)), load_folder)


def shared(key: tuple, factory: Callable[[], Any]) -> Any:
    """``factory()`` computed once per ``key`` for the whole process, even under concurrent calls."""
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _cache:
            value = factory()
            with _cache_lock:
                _cache[key] = value
    return _cache[key]


def clear() -> None:
    """Forget every loaded component (tests; switching model folders)."""
    with _cache_lock:
        _cache.clear()
        _key_locks.clear()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- loaders by component kind ------------------------------------------------------------


def _weights(dtype) -> dict:
    return dict(use_safetensors=True, torch_dtype=dtype)


def _prepared(module, device: str):
    module.to(device)
    module.eval()
    module.requires_grad_(False)
    return module


def _load_ldm(folder: Path, device: str, dtype):
    from diffusers import DDIMScheduler, UNet2DModel, VQModel

    from .ldm import LDMSemanticSynthesisPipeline, SegmentationChannelMapper

    def part(cls, name):
        return _prepared(cls.from_pretrained(folder, subfolder=name, **_weights(dtype)), device)

    return LDMSemanticSynthesisPipeline(
        unet=part(UNet2DModel, "unet"),
        vqvae=part(VQModel, "vqvae"),
        channel_mapper=part(SegmentationChannelMapper, "channel_mapper"),
        scheduler=DDIMScheduler.from_pretrained(folder, subfolder="scheduler"),
    )


def load_sd15(folder: Path, device: str, dtype) -> dict:
    """The SD 1.5 modules of ``folder`` (uncached: :func:`load` caches them)."""
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    def part(cls, name):
        return _prepared(cls.from_pretrained(folder, subfolder=name, **_weights(dtype)), device)

    return dict(
        unet=part(UNet2DConditionModel, "unet"),
        vae=part(AutoencoderKL, "vae"),
        text_encoder=part(CLIPTextModel, "text_encoder"),
        tokenizer=CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer"),
        scheduler_config=DPMSolverMultistepScheduler.load_config(folder, subfolder="scheduler"),
    )


def _load_controlnet(folder: Path, device: str, dtype):
    from diffusers import ControlNetModel

    return _prepared(ControlNetModel.from_pretrained(folder, **_weights(dtype)), device)


def _load_lora(folder: Path, device: str, dtype) -> Path:
    path = folder / "pytorch_lora_weights.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} not found in {folder}")
    return path


def _load_upernet(folder: Path, device: str, dtype):
    from transformers import UperNetForSemanticSegmentation
    from transformers.models.segformer.image_processing_pil_segformer import (
        SegformerImageProcessorPil,
    )

    model = UperNetForSemanticSegmentation.from_pretrained(folder, **_weights(dtype))
    return _prepared(model, device), SegformerImageProcessorPil.from_pretrained(folder)


def _load_maskformer(folder: Path, device: str, dtype):
    from transformers import MaskFormerForInstanceSegmentation
    from transformers.models.maskformer.image_processing_pil_maskformer import (
        MaskFormerImageProcessorPil,
    )

    model = MaskFormerForInstanceSegmentation.from_pretrained(folder, **_weights(dtype))
    return _prepared(model, device), MaskFormerImageProcessorPil.from_pretrained(folder)


_LOADERS = {
    "ldm": _load_ldm,
    "sd15": load_sd15,
    "controlnet": _load_controlnet,
    "lora": _load_lora,
    "upernet": _load_upernet,
    "maskformer": _load_maskformer,
}
