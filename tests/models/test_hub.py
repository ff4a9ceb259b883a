"""Hub components: pinned commits, the lock file of resolved refs, loud pulls, immediate offline answers.

No network: the hub is a fake ``HfApi`` plus a fake ``snapshot_download`` that writes the HF cache
layout; the reachability probe is patched or pointed at a closed local port.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import time
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest

from sgcformat import ModelNotFoundError
from sgcformat.cli import main
from sgcformat.models import loading
from sgcformat.models.profiles import LDM_URL, PROFILES

SD_PROFILE = PROFILES["sd15-controlnet-seg"]
UPERNET = SD_PROFILE.segmenter
COMMIT_A, COMMIT_B = "a" * 40, "b" * 40
SAFETENSORS_PR = ["config.json", "preprocessor_config.json", "model.safetensors", "README.md"]
_REAL_PROBE = loading._probe  # before any fixture patches it
MAIN_BIN_ONLY = ["config.json", "preprocessor_config.json", "pytorch_model.bin", "README.md"]


class FakeHub:
    """``HfApi`` stand-in: refs point at commits, commits list files; every call is recorded."""

    def __init__(self, refs: dict[str, str], files: dict[str, list[str]]):
        self.refs, self.files, self.calls = refs, files, []

    def model_info(self, repo_id, *, revision=None, **kwargs):
        self.calls.append(("model_info", repo_id, revision))
        return SimpleNamespace(sha=self.refs[revision])

    def list_repo_files(self, repo_id, *, revision=None, **kwargs):
        self.calls.append(("list_repo_files", repo_id, revision))
        return list(self.files[revision])


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty HF cache, the hub reachable, and a fake snapshot_download into that cache."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("SGC_MODEL_DIR", str(tmp_path / "no-local-models"))
    monkeypatch.setenv("SGC_MODELS_CONFIG", str(tmp_path / "none.json"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(loading, "_probe", lambda url, timeout: True)
    loading.clear()
    fake = FakeHub({"refs/pr/1": COMMIT_A}, {COMMIT_A: SAFETENSORS_PR, COMMIT_B: SAFETENSORS_PR})
    downloads = []

    def snapshot_download(repo_id, *, revision, allow_patterns, cache_dir, **kwargs):
        downloads.append((repo_id, revision))
        folder = Path(cache_dir) / f"models--{repo_id.replace('/', '--')}" / "snapshots" / revision
        for name in fake.files[revision]:
            if any(fnmatch.fnmatch(name, p) for p in allow_patterns):
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(revision)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: fake)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    fake.downloads = downloads
    yield fake
    loading.clear()


def test_every_hub_component_has_a_commit_or_a_ref_to_lock():
    components = {c.name: c for p in PROFILES.values() for c in p.components if c.repo is not None}
    assert components["controlnet-seg"].revision == "210682041b41097834006a910b8773f423343900"
    assert components["sd15"].pinned and components["lcm-lora-sd15"].pinned
    # main of openmmlab/upernet-convnext-small has only pytorch_model.bin.
    assert components["upernet-convnext-small"].revision == "refs/pr/1"
    assert "model.safetensors" in components["upernet-convnext-small"].files
    for component in components.values():
        assert component.revision and "unpinned" not in component.source


def test_models_list_shows_each_pinned_commit(hub, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "unpinned" not in out
    for component in SD_PROFILE.components:
        if component.pinned:
            assert f"commit {component.revision} (pinned)" in out
    assert "refs/pr/1 (commit resolved and locked by `sgc models pull`)" in out


def test_pull_refuses_a_repo_without_the_required_files(hub):
    hub.refs["refs/pr/1"] = COMMIT_B
    hub.files[COMMIT_B] = MAIN_BIN_ONLY
    with pytest.raises(ModelNotFoundError, match=r"no file matching model\.safetensors") as info:
        loading.pull(UPERNET)
    assert "\n" not in str(info.value) and "pytorch_model.bin" in str(info.value)
    assert hub.downloads == []  # nothing fetched, not even the configs
    assert not loading.lock_path().exists()


def _complete_decoders(hub: FakeHub) -> None:
    """Put every file the decoder components need on the fake hub, at their pinned commits."""
    for component in SD_PROFILE.decoder:
        hub.files[component.revision] = [p.replace("*", "vocab.json") for p in component.files]


def test_pull_cli_fails_loudly_in_one_line(hub, capsys):
    _complete_decoders(hub)
    hub.files[COMMIT_A] = MAIN_BIN_ONLY
    code = main(["models", "pull", "sd15-controlnet-seg", "--no-fast"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "upernet-convnext-small" in captured.err and "model.safetensors" in captured.err
    assert [r for _, r in hub.downloads] == [c.revision for c in SD_PROFILE.decoder]


def test_pull_locks_the_resolved_commit_and_later_loads_exactly_it(hub, capsys):
    folder = loading.pull(UPERNET)
    assert folder.name == COMMIT_A and (folder / "model.safetensors").is_file()
    lock = json.loads(loading.lock_path().read_text())["components"]
    assert lock[UPERNET.name] == {"repo": UPERNET.repo, "ref": "refs/pr/1", "commit": COMMIT_A}

    hub.refs["refs/pr/1"] = COMMIT_B  # the ref moves on the hub
    calls = len(hub.calls)
    assert loading.resolve(UPERNET, SD_PROFILE) == folder  # the locked commit, no hub call
    assert len(hub.calls) == calls
    assert main(["models", "list"]) == 0
    assert f"commit {COMMIT_A} (refs/pr/1, locked at pull)" in capsys.readouterr().out


def test_pull_keeps_the_locked_commit_unless_asked_to_update(hub, capsys):
    _complete_decoders(hub)
    pull = ["models", "pull", "sd15-controlnet-seg", "--no-fast"]
    assert main(pull) == 0 and loading.locked_commit(UPERNET) == COMMIT_A
    hub.refs["refs/pr/1"] = COMMIT_B
    assert main(pull) == 0 and loading.locked_commit(UPERNET) == COMMIT_A
    assert main([*pull, "--update"]) == 0 and loading.locked_commit(UPERNET) == COMMIT_B
    assert loading.resolve(UPERNET, SD_PROFILE).name == COMMIT_B
    assert f"commit {COMMIT_B}" in capsys.readouterr().out


def test_pull_of_a_pinned_component_lists_that_commit_and_writes_no_lock(hub):
    controlnet = SD_PROFILE.decoder[1]
    hub.files[controlnet.revision] = ["config.json", "diffusion_pytorch_model.safetensors"]
    folder = loading.pull(controlnet)
    assert folder.name == controlnet.revision
    assert ("model_info", controlnet.repo, controlnet.revision) not in hub.calls
    assert ("list_repo_files", controlnet.repo, controlnet.revision) in hub.calls
    assert not loading.lock_path().exists()
    assert loading.is_available(controlnet)


def test_a_partial_snapshot_is_not_taken_for_the_component(hub):
    loading.pull(UPERNET)
    folder = loading.cached_snapshot(UPERNET)
    (folder / "model.safetensors").unlink()
    assert loading.cached_snapshot(UPERNET) is None


def _fail(*args, **kwargs):
    raise AssertionError("the hub client was called")


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "probe"])
def test_missing_hub_component_answers_at_once_without_the_hub_client(hub, monkeypatch, capsys, how):
    probes = []
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(loading, "_probe", lambda url, timeout: probes.append(url) or False)
    monkeypatch.setattr(huggingface_hub, "HfApi", _fail)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _fail)
    start = time.perf_counter()
    for component in SD_PROFILE.decoder:
        with pytest.raises(ModelNotFoundError) as info:
            loading.resolve(component, SD_PROFILE)
        message = str(info.value)
        assert "\n" not in message and "sgc models pull sd15-controlnet-seg" in message
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5
    assert len(probes) == (0 if how == "HF_HUB_OFFLINE" else 1)  # one probe answers both components
    assert ("HF_HUB_OFFLINE is set" if how == "HF_HUB_OFFLINE" else "is unreachable") in message
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_real_probe_of_a_closed_port_is_immediate(hub, monkeypatch):
    monkeypatch.setattr(loading, "_probe", _REAL_PROBE)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    start = time.perf_counter()
    assert "unreachable" in loading.hub_unreachable_reason()
    assert time.perf_counter() - start < loading.PROBE_TIMEOUT


def test_ldm_message_names_where_the_zip_comes_from(tmp_path, monkeypatch):
    monkeypatch.setenv("SGC_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("SGC_MODELS_CONFIG", str(tmp_path / "none.json"))
    monkeypatch.setattr(loading, "user_model_dir", lambda: tmp_path / "user")
    profile = PROFILES["ldm-semantic-512"]
    with pytest.raises(ModelNotFoundError) as info:
        loading.resolve(profile.decoder[0], profile)
    assert LDM_URL in str(info.value) and "sgc models convert-ldm" in str(info.value)
    assert LDM_URL.startswith("https://ommer-lab.com/files/latent-diffusion/")


def test_lock_entry_of_another_ref_is_ignored(hub):
    loading.pull(UPERNET)
    moved = dataclasses.replace(UPERNET, revision="refs/pr/2")
    assert loading.locked_commit(moved) is None
    assert loading.cached_snapshot(moved) is None
