"""Different files decoded in one pipeline call (the archive restore's GPU batches), tiny models."""

from __future__ import annotations

import numpy as np
import pytest

import sgcformat
from sgcformat.models import generate_batch
from sgcformat.models.decode import generate_files

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: extra intra-op threads only add contention on 2 cores

STEPS = 4


def _ade_scene(make_scene, seed: int):
    """A coco scene's layout relabelled into ade20k-150 values (sky 3, grass 10, person 13)."""
    from PIL import Image

    image, labels = make_scene(64, 48, seed=seed)
    values = np.asarray(labels)
    ade = np.select([values == 156, values == 123, values == 0], [3, 10, 13], 0).astype(np.uint8)
    if seed:
        image, ade = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), ade[:, ::-1].copy()
    return image, Image.fromarray(ade)


def _coco(make_scene, width: int, height: int, seed: int) -> sgcformat.SgcFile:
    image, labels = make_scene(width, height, seed=seed)
    return sgcformat.encode(image, labels=labels, vocab="coco-stuff-182")


def _files(make_scene, profile: str) -> list[sgcformat.SgcFile]:
    if profile == "ldm-semantic-512":
        return [_coco(make_scene, 64, 48, s) for s in (0, 1)]
    scenes = [_ade_scene(make_scene, s) for s in (0, 1)]
    return [sgcformat.encode(i, labels=lab, vocab="ade20k-150") for i, lab in scenes]


def _pipeline_class(profile: str):
    if profile == "ldm-semantic-512":
        from sgcformat.models.ldm import LDMSemanticSynthesisPipeline

        return LDMSemanticSynthesisPipeline
    from diffusers import StableDiffusionControlNetImg2ImgPipeline

    return StableDiffusionControlNetImg2ImgPipeline


@pytest.mark.parametrize("profile", ["ldm-semantic-512", "sd15-controlnet-seg"])
def test_two_files_in_one_call_equal_their_own_decodes(tiny_models, make_scene, monkeypatch, profile):
    files = _files(make_scene, profile)
    assert files[0].to_bytes() != files[1].to_bytes() and files[0].profile == profile
    seeds = [[3], [5, 6]]
    singles = [generate_batch(f, s, steps=STEPS, use_cache=False) for f, s in zip(files, seeds, strict=True)]
    cls = _pipeline_class(profile)
    calls = []
    real = cls.__call__

    def counting(self, *args, **kwargs):
        calls.append(kwargs.get("generator"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__call__", counting)
    batched = generate_files(files, seeds, steps=STEPS)
    assert len(calls) == 1 and len(calls[0]) == 3  # one pipeline call, three samples
    assert [len(b) for b in batched] == [1, 2]
    apart = np.abs(np.asarray(singles[0][0], float) - np.asarray(singles[1][0], float)).max()
    assert apart > 2  # the comparison below can tell the files apart
    for got, want in zip(batched, singles, strict=True):
        for a, b in zip(got, want, strict=True):
            assert a.size == b.size == files[0].size
            assert np.abs(np.asarray(a, float) - np.asarray(b, float)).max() <= 2  # batched kernels round


def test_files_of_other_generation_sizes_get_their_own_call(tiny_models, make_scene, monkeypatch):
    from sgcformat.models.ldm import LDMSemanticSynthesisPipeline

    wide, tall = _coco(make_scene, 64, 48, 0), _coco(make_scene, 48, 64, 1)
    calls = []
    real = LDMSemanticSynthesisPipeline.__call__

    def counting(self, labels, *args, **kwargs):
        calls.append(tuple(labels.shape))
        return real(self, labels, *args, **kwargs)

    monkeypatch.setattr(LDMSemanticSynthesisPipeline, "__call__", counting)
    out = generate_files([wide, tall, wide], [[0], [0], [1]], steps=STEPS)
    assert len(calls) == 2 and sorted(c[0] for c in calls) == [1, 2]
    assert [im.size for images in out for im in images] == [(64, 48), (48, 64), (64, 48)]


def test_seed_lists_must_match_the_files(make_scene):
    sgc = _coco(make_scene, 64, 48, 0)
    with pytest.raises(ValueError, match="2 files but 1 seed lists"):
        generate_files([sgc, sgc], [[0]])


def test_archive_restore_puts_different_files_in_one_call(tiny_models, tmp_path, make_scene, monkeypatch):
    from sgcformat.archive import decode_tree, encode_tree
    from sgcformat.models.ldm import LDMSemanticSynthesisPipeline

    src, labels = tmp_path / "photos", tmp_path / "labels"
    for folder in (src, labels):
        folder.mkdir()
    for i in range(5):
        image, label = make_scene(64, 48, seed=i)
        image.save(src / f"p{i}.jpg")
        label.save(labels / f"p{i}.png")
    (src / "p4.jpg").write_bytes(b"not a photo")  # recorded as failed at encode: four files to decode
    encode_tree(src, tmp_path / "sgc", labels_dir=labels, vocab="coco-stuff-182")
    calls = []
    real = LDMSemanticSynthesisPipeline.__call__

    def counting(self, label_batch, *args, **kwargs):
        calls.append(len(label_batch))
        return real(self, label_batch, *args, **kwargs)

    monkeypatch.setattr(LDMSemanticSynthesisPipeline, "__call__", counting)
    summary = decode_tree(tmp_path / "sgc", tmp_path / "out", steps=STEPS, batch_size=3)
    assert summary.done == 4 and summary.failed == 0
    assert calls == [3, 1]  # batches of different files: ceil(4 / 3) pipeline calls
    from PIL import Image

    for i in range(4):
        with Image.open(tmp_path / "out" / f"p{i}.jpg") as im:
            assert im.size == (64, 48)


def test_a_failing_batch_is_retried_file_by_file(tiny_models, tmp_path, make_scene, monkeypatch):
    """One file the decoder cannot take fails alone; the rest of its batch is restored."""
    from sgcformat.archive import decode_tree, encode_tree
    from sgcformat.models import decode as decode_module

    src, labels = tmp_path / "photos", tmp_path / "labels"
    for folder in (src, labels):
        folder.mkdir()
    for i, size in enumerate([(64, 48), (64, 48), (48, 64)]):
        image, label = make_scene(*size, seed=i)
        image.save(src / f"p{i}.png")
        label.save(labels / f"p{i}.png")
    encode_tree(src, tmp_path / "sgc", labels_dir=labels, vocab="coco-stuff-182")
    real = decode_module.generate_files

    def refusing_tall(sgcs, seeds, **kw):
        if any(s.size == (48, 64) for s in sgcs):
            raise RuntimeError("decoder refused a tall file")
        return real(sgcs, seeds, **kw)

    monkeypatch.setattr(decode_module, "generate_files", refusing_tall)
    summary = decode_tree(tmp_path / "sgc", tmp_path / "out", steps=STEPS, batch_size=3)
    assert (summary.done, summary.failed) == (2, 1)
    error = "RuntimeError: decoder refused a tall file"
    assert summary.failures == [{"source": "p2.png.sgc", "error": error}]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["p0.png", "p1.png"]
