"""Model lookup, missing-model errors, the `sgc models` CLI, the decode cache and the segmenters."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sgcformat import ModelNotFoundError
from sgcformat.cli import main
from sgcformat.models import cache, generate, loading, segment, segment_batch
from sgcformat.models.profiles import PROFILES
from sgcformat.registry import vocabulary
from sgcformat.testing import use_tiny_models


@pytest.fixture
def no_models(tmp_path):
    with use_tiny_models(tmp_path / "empty") as root:
        yield root


@pytest.mark.parametrize(
    ("profile", "component", "command"),
    [("ldm-semantic-512", "ldm-semantic-512", "sgc models convert-ldm"),
     ("sd15-controlnet-seg", "sd15", "sgc models pull sd15-controlnet-seg")],
)
def test_missing_model_is_one_clear_line(no_models, sgc_files, profile, component, command):
    with pytest.raises(ModelNotFoundError) as info:
        generate(sgc_files[profile], steps=4)
    message = str(info.value)
    assert "\n" not in message
    assert f"'{component}'" in message and command in message


def test_missing_model_cli_exits_nonzero_without_traceback(no_models, sgc_files, tmp_path, capsys):
    path = tmp_path / "x.sgc"
    path.write_bytes(sgc_files["sd15-controlnet-seg"].to_bytes())
    code = main(["decode", str(path), "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err and "sgc models pull sd15-controlnet-seg" in err


def test_missing_segmenter(no_models, make_scene):
    image, _ = make_scene(32, 32)
    with pytest.raises(ModelNotFoundError, match="upernet-convnext-small"):
        segment(image, "sd15-controlnet-seg")


def test_config_file_paths_override(tiny_model_dir, tmp_path, monkeypatch):
    config = tmp_path / "models.json"
    config.write_text(json.dumps({"paths": {"sd15": str(tiny_model_dir / "sd15")}}))
    monkeypatch.setenv("SGC_MODELS_CONFIG", str(config))
    monkeypatch.setenv("SGC_MODEL_DIR", str(tmp_path / "elsewhere"))
    sd15 = PROFILES["sd15-controlnet-seg"].decoder[0]
    assert loading.local_folder(sd15) == tiny_model_dir / "sd15"
    config.write_text(json.dumps({"paths": {"sd15": str(tmp_path / "gone")}}))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        loading.resolve(sd15, PROFILES["sd15-controlnet-seg"])


def test_models_list_shows_local_components(tiny_models, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for profile in PROFILES.values():
        assert profile.name in out
        for component in profile.components:
            assert component.name in out
    assert "missing" not in out


def test_components_load_once_and_are_shared(tiny_models):
    profile = PROFILES["sd15-controlnet-seg"]
    first = loading.load(profile.decoder[1], profile, "cpu")
    assert loading.load(profile.decoder[1], profile, "cpu") is first


def test_cache_hit_skips_the_model(tiny_models, sgc_files, monkeypatch):
    from sgcformat.models import decode

    sgc = sgc_files["ldm-semantic-512"]
    first = generate(sgc, steps=4)
    assert cache.usage()[0] >= 1

    def fail(*args, **kwargs):
        raise AssertionError("the model ran despite a cached image")

    monkeypatch.setattr(decode, "_run", fail)
    assert np.array_equal(np.asarray(generate(sgc, steps=4)), np.asarray(first))
    with pytest.raises(AssertionError, match="model ran"):
        generate(sgc, steps=4, seed=99)  # another seed is another entry


def test_cache_cap_evicts_oldest_and_clear(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("SGC_CACHE_DIR", str(tmp_path / "c"))
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(4)]
    one_entry = len(_png(images[0]))
    monkeypatch.setenv("SGC_CACHE_MAX_MB", str(2.5 * one_entry / 1024 / 1024))
    keys = [cache.key(b"file", seed=i) for i in range(4)]
    for key, image in zip(keys, images, strict=True):
        cache.put(key, image)
    assert cache.get(keys[0]) is None and cache.get(keys[1]) is None
    assert np.array_equal(np.asarray(cache.get(keys[3])), np.asarray(images[3]))
    assert cache.clear() == 2
    assert cache.usage() == (0, 0)


def _png(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("profile", ["ldm-semantic-512", "sd15-controlnet-seg"])
def test_segment_gives_full_resolution_vocabulary_ids(tiny_models, make_scene, profile):
    image, _ = make_scene(70, 50)
    ids = segment(image, profile)
    assert ids.shape == (50, 70) and ids.dtype == np.uint16
    vocab = vocabulary(PROFILES[profile].vocab)
    assert ids.max() < vocab.size
    if profile == "ldm-semantic-512":
        from sgcformat.models.segmenters import COCO_STUFF_UNUSED

        assert not set(np.unique(ids).tolist()) & COCO_STUFF_UNUSED


def test_segment_batch_matches_single_images(tiny_models, make_scene):
    a, _ = make_scene(64, 64, seed=1)
    b, _ = make_scene(64, 64, seed=2)
    batch = segment_batch([a, b], "sd15-controlnet-seg")
    for ids, image in zip(batch, [a, b], strict=True):
        assert np.array_equal(ids, segment(image, "sd15-controlnet-seg"))


def test_encode_without_labels_runs_the_segmenter(tiny_models, make_scene):
    import sgcformat

    image, _ = make_scene(64, 48)
    sgc = sgcformat.encode(image, profile="sd15-controlnet-seg")
    assert sgc.vocab == "ade20k-150" and sgc.size == (64, 48)
    assert generate(sgc, steps=4).size == (64, 48)
