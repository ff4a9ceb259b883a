"""Finding and loading model components: local overrides, the HF cache, once per process.

Where a component's folder comes from, first match wins:

1. ``paths`` in the config file (``$SGC_MODELS_CONFIG``, else ``models.json`` in the
   platformdirs user config dir): ``{"paths": {"sd15": "/models/sd15"}}``;
2. ``$SGC_MODEL_DIR/<component name>`` (``os.pathsep``-separated list of roots);
3. ``model_dir`` of the config file, then the user data dir
   (``<user data>/sgcformat/models/<component name>``, where ``convert-ldm`` writes);
4. the component's hub repo at its commit (the pinned hash, or the one the lock file
   recorded when ``sgc models pull`` resolved a ref): the local HF cache first, then a
   download, unless ``HF_HUB_OFFLINE`` is set or one short probe finds the hub unreachable
   (then the answer is immediate, without the hub client's retries).

A pull lists the repo's files first and refuses when a required pattern matches none,
so a repo without safetensors fails loudly instead of downloading configs alone.
Weights load as safetensors only and never with ``trust_remote_code``. Loaded
components are cached per (component, folder, device, dtype) and shared by every
decode in the process; loading is serialised per key, so concurrent first uses
load once.
"""

from __future__ import annotations

import fnmatch
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ModelNotFoundError
from ..files import atomic_write_bytes
from .profiles import Component, ModelProfile

APP_NAME = "sgcformat"
#: Seconds the reachability probe waits for a TCP connection to the hub.
PROBE_TIMEOUT = 1.5
#: Seconds a probe's answer is reused, so one decode's components probe once.
PROBE_TTL = 30.0
#: Decoder precisions offered by ``--dtype`` and ``generate(dtype=...)``.
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}

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


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_cache_dir() -> Path:
    """The HF hub cache; ``$HF_HUB_CACHE`` is read at call time so it can be moved after import."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


# --- lock file: the commits that refs resolved to at pull time ---------------------------

_lock_file_lock = threading.Lock()


def lock_path() -> Path:
    """The lock file beside the models it describes, in the HF hub cache."""
    return hub_cache_dir() / "sgcformat-models.lock.json"


def read_lock() -> dict[str, dict]:
    """Component name → ``{"repo", "ref", "commit"}`` recorded by earlier pulls."""
    path = lock_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot read model lock file {path}: {exc}") from exc
    entries = data.get("components") if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


def locked_commit(component: Component) -> str | None:
    """The commit ``component`` loads from: its pin, else the lock's entry for its repo and ref."""
    if component.pinned:
        return component.revision
    entry = read_lock().get(component.name)
    if (isinstance(entry, dict) and entry.get("repo") == component.repo
            and entry.get("ref") == component.revision):
        commit = entry.get("commit")
        if isinstance(commit, str) and len(commit) == 40:
            return commit
    return None


def _record_lock(component: Component, commit: str) -> None:
    with _lock_file_lock:
        entries = read_lock()
        entries[component.name] = {"repo": component.repo, "ref": component.revision, "commit": commit}
        path = lock_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"components": entries}, indent=2, sort_keys=True) + "\n"
        atomic_write_bytes(path, text.encode())


# --- the hub cache and the hub -----------------------------------------------------------


def cached_snapshot(component: Component) -> Path | None:
    """The complete snapshot of ``component`` at its commit in the HF cache, if present.

    Reads the cache layout directly (``models--org--name/snapshots/<commit>``): no network,
    no hub-client messages, and a partial download (a pattern without a file) is a miss.
    """
    commit = locked_commit(component)
    if component.repo is None or commit is None:
        return None
    folder = hub_cache_dir() / f"models--{component.repo.replace('/', '--')}" / "snapshots" / commit
    if not folder.is_dir():
        return None
    complete = all(any(p.is_file() for p in folder.glob(pattern)) for pattern in component.files)
    return folder if complete else None


_probe_state: dict[str, tuple[float, bool]] = {}


def _probe(url: str, timeout: float) -> bool:
    """One TCP connection attempt to the hub's host."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def hub_unreachable_reason() -> str | None:
    """Why the hub cannot be used now (``HF_HUB_OFFLINE``, or a failed probe), else ``None``."""
    if _offline():
        return "HF_HUB_OFFLINE is set"
    url = hub_endpoint()
    checked = _probe_state.get(url)
    if checked is None or time.monotonic() - checked[0] > PROBE_TTL:
        checked = (time.monotonic(), _probe(url, PROBE_TIMEOUT))
        _probe_state[url] = checked
    return None if checked[1] else f"{url} is unreachable"


def pull(component: Component, *, update: bool = False, api=None) -> Path:
    """Download ``component``'s files at its commit into the HF cache; lock a resolved ref.

    A ref already in the lock file stays at its locked commit (as a lock file should)
    unless ``update`` re-resolves it. The repo's file list is checked first: a required
    pattern that matches no file (a repo without safetensors at that revision, say) is an
    error, not a config-only download. ``api`` stands in for :class:`huggingface_hub.HfApi`.
    """
    reason = hub_unreachable_reason()
    if reason is not None:
        raise ModelNotFoundError(f"the hub is not reachable ({reason})")
    import huggingface_hub

    api = api or huggingface_hub.HfApi()
    commit = locked_commit(component) if component.pinned or not update else None
    if commit is None:
        commit = api.model_info(component.repo, revision=component.revision).sha
    files = api.list_repo_files(component.repo, revision=commit)
    unmatched = [pattern for pattern in component.files if not fnmatch.filter(files, pattern)]
    if unmatched:
        raise ModelNotFoundError(
            f"{component.source} (commit {commit}) has no file matching {', '.join(unmatched)}; "
            f"it has: {', '.join(sorted(files)[:8])}{' ...' if len(files) > 8 else ''}"
        )
    folder = Path(huggingface_hub.snapshot_download(
        component.repo, revision=commit, allow_patterns=list(component.files),
        cache_dir=hub_cache_dir(),
    ))
    if not component.pinned:
        _record_lock(component, commit)
    return folder


def resolve(component: Component, profile: ModelProfile, *, download: bool = True) -> Path:
    """The folder to load ``component`` from; :class:`ModelNotFoundError` when there is none."""
    folder = local_folder(component)
    if folder is not None:
        if not folder.is_dir():
            raise _missing(component, profile, f"configured folder {folder} does not exist")
        return folder
    if component.repo is None:
        raise _missing(component, profile, "not found locally")
    folder = cached_snapshot(component)
    if folder is not None:
        return folder
    reason = "not downloaded" if download else "not in the local cache"
    unreachable = hub_unreachable_reason() if download else None
    if not download or unreachable is not None:
        raise _missing(component, profile, reason + (f" and {unreachable}" if unreachable else ""))
    try:
        return pull(component)
    except Exception as exc:
        raise _missing(component, profile, f"download failed: {_first_line(exc)}") from exc


def is_available(component: Component) -> bool:
    """Whether ``component`` can be loaded without a download."""
    return local_folder(component) is not None or cached_snapshot(component) is not None


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
    """Segmenter precision: half on accelerators, float32 on CPU."""
    import torch

    return torch.float32 if device.split(":")[0] == "cpu" else torch.float16


def decoder_dtype(profile: ModelProfile, device: str, requested: str | None = None) -> str:
    """``requested`` if given, else the profile's accurate default (always fp32 on the CPU)."""
    if requested is None:
        return "fp32" if device.split(":")[0] == "cpu" else profile.accelerator_dtype
    if requested not in DTYPES:
        raise ValueError(f"unknown dtype {requested!r} (choose from {', '.join(DTYPES)})")
    return requested


def torch_dtype(name: str):
    import torch

    return getattr(torch, DTYPES[name])


def load(component: Component, profile: ModelProfile, device: str, dtype: str | None = None) -> Any:
    """Load ``component`` on ``device`` once per process and return the shared object.

    ``dtype`` is a :data:`DTYPES` name; ``None`` gives :func:`default_dtype`.
    """
    import torch

    dtype = default_dtype(device) if dtype is None else torch_dtype(dtype)
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
    _probe_state.clear()


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
