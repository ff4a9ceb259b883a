"""Vocabulary bridges: every vocabulary decodes with every generative profile (issue 13)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sgcformat import bridges, container, registry
from sgcformat.cli import main
from sgcformat.codec import encode
from sgcformat.errors import VocabularyError

POTSDAM_CLASSES = ("impervious surfaces", "building", "low vegetation", "tree", "car", "clutter")
#: COCO-Stuff ids with no annotation in the dataset: a model trained on it never saw them.
COCO_UNUSED = ("street sign", "hat", "shoe", "eye glasses", "plate", "mirror", "window", "desk", "door",
               "blender", "hair brush")
PAIRS = [(s, t) for s in registry.VOCABULARIES for t in bridges.TARGETS if s != t]


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_every_class_maps_to_a_valid_target(source, target):
    bridge = bridges.builtin(source, target)
    src, dst = registry.vocabulary(source), registry.vocabulary(target)
    assert len(bridge.table) == src.size
    assert all(0 <= t < dst.size for t in bridge.table)
    ids = np.arange(src.size, dtype=np.uint16).reshape(1, -1)
    assert np.array_equal(bridge.apply(ids)[0], bridge.table)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_tables_keep_shared_names_and_avoid_classes_coco_never_annotated(source, target):
    bridge = bridges.builtin(source, target)
    src, dst = registry.vocabulary(source).display_names, registry.vocabulary(target).display_names
    unused = {dst.index(n) for n in COCO_UNUSED} if target == "coco-stuff-182" else set()
    assert not unused & set(bridge.table), [dst[t] for t in unused & set(bridge.table)]
    for i, name in enumerate(src):
        if name in dst and dst.index(name) not in unused:
            assert dst[bridge.table[i]] == name, (name, dst[bridge.table[i]])


def test_non_obvious_rows_say_why():
    """Rows whose target is neither the same name nor a '-other' form of it carry a reason
    (spot checks of the reviewed tables)."""
    city = bridges.builtin("cityscapes-34", "ade20k-150")
    names = registry.vocabulary("cityscapes-34").display_names
    for cls in ("rail track", "train", "ego vehicle", "out of roi"):
        assert city.reasons[names.index(cls)], cls
    ade = registry.vocabulary("ade20k-150").display_names
    assert ade[city.table[names.index("train")]] == "bus"


def test_identity_when_the_profile_knows_the_vocabulary():
    coco = registry.vocabulary("coco-stuff-182")
    assert bridges.for_profile(coco, "ldm-semantic-512") is None
    assert bridges.for_profile(coco, "preview") is None
    assert bridges.for_profile(coco, "sd15-controlnet-seg").target == "ade20k-150"


@pytest.fixture(scope="module")
def potsdam(tmp_path_factory):
    """A file with its own class list (vocabulary id 15), written to disk."""
    rng = np.random.default_rng(0)
    ids = np.repeat(np.repeat(rng.integers(0, 6, (6, 8)), 8, axis=0), 8, axis=1).astype(np.uint8)
    sgc = encode(rng.integers(0, 256, (*ids.shape, 3), dtype=np.uint8), labels=ids,
                 vocab=registry.CustomVocabulary.from_names(POTSDAM_CLASSES))
    path = tmp_path_factory.mktemp("custom") / "potsdam.sgc"
    path.write_bytes(sgc.to_bytes())
    return path


@pytest.fixture
def city_sgc(corpus) -> container.SgcFile:
    stem = corpus / "seg" / "cityscapes" / "imaginaire_frankfurt_000000_000576"
    return encode(stem.with_suffix(".jpg"), labels=stem.with_name(stem.name + ".label.png"),
                  vocab="cityscapes-34")


def test_retarget_maps_labels_and_keeps_everything_else(city_sgc):
    assert city_sgc.profile == "preview"
    bridge = bridges.builtin("cityscapes-34", "ade20k-150")
    out = bridges.retarget(city_sgc, "sd15-controlnet-seg")
    assert (out.vocab, out.profile) == ("ade20k-150", "sd15-controlnet-seg")
    assert np.array_equal(out.label_map, np.asarray(bridge.table)[city_sgc.label_map])
    assert out.color_data == city_sgc.color_data and out.size == city_sgc.size
    again = container.parse(out.to_bytes())  # a valid file of the target vocabulary
    assert np.array_equal(again.label_map, out.label_map)
    assert city_sgc.vocab == "cityscapes-34"  # the source is untouched


def test_custom_vocabulary_needs_a_map_and_takes_one(tmp_path, potsdam):
    sgc = container.read(potsdam)
    assert sgc.vocab == "custom"
    with pytest.raises(VocabularyError, match="--vocab-map"):
        bridges.retarget(sgc, "sd15-controlnet-seg")
    rows = {"impervious surfaces": "road", "building": "building", "low vegetation": "grass",
            "tree": "tree", "car": "car", "clutter": "box"}
    table = tmp_path / "potsdam.tsv"
    table.write_text("source\ttarget\n" + "".join(f"{k}\t{v}\n" for k, v in rows.items()))
    out = bridges.retarget(sgc, "sd15-controlnet-seg", table)
    ade = registry.vocabulary("ade20k-150").display_names
    names = sgc.vocabulary.class_names
    expected = np.array([ade.index(rows[n]) for n in names])[sgc.label_map]
    assert out.vocab == "ade20k-150" and np.array_equal(out.label_map, expected)
    assert out.chunk(container.ChunkType.VOCAB) is None
    container.parse(out.to_bytes())


@pytest.mark.parametrize(("text", "error"), [
    ("building\tbuilding\n", "no row for 5"),
    ("nonsense\troad\n", "'nonsense' is not a class of custom"),
    ("building\tspaceship\n", "'spaceship' is not a class of ade20k-150"),
    ("building\tbuilding\nbuilding\twall\n", "mapped twice"),
    ("building road\n", "expected SOURCE<TAB>TARGET"),
])
def test_bad_vocab_map_is_a_one_line_error_with_its_line(tmp_path, potsdam, text, error):
    table = tmp_path / "m.tsv"
    table.write_text(text)
    with pytest.raises(VocabularyError, match=error):
        bridges.retarget(container.read(potsdam), "sd15-controlnet-seg", table)


def test_info_says_which_bridge_applies(city_sgc, potsdam, tmp_path, capsys):
    path = tmp_path / "city.sgc"
    path.write_bytes(city_sgc.to_bytes())
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "decodes with sd15-controlnet-seg: bridge cityscapes-34 → ade20k-150" in out
    assert main(["info", "--json", str(potsdam)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["bridges"] == dict.fromkeys(["ldm-semantic-512", "sd15-controlnet-seg"],
                                            "needs --vocab-map FILE")


def test_bridged_cityscapes_control_image_has_only_mapped_palette_colours(
        tiny_models, city_sgc, monkeypatch):
    """Through the real ControlNet decode path: the control image it builds uses exactly the
    ADE20K palette colours of the classes the bridge maps the file's classes onto."""
    pytest.importorskip("torch")
    from sgcformat.models import controlnet, generate

    seen = []
    real = controlnet.control_image
    monkeypatch.setattr(controlnet, "control_image",
                        lambda labels, size: seen.append(real(labels, size)) or seen[-1])
    generate(bridges.retarget(city_sgc, "sd15-controlnet-seg"), steps=2, use_cache=False)
    colours = {tuple(c) for c in np.asarray(seen[0]).reshape(-1, 3)}
    table = bridges.builtin("cityscapes-34", "ade20k-150").table
    mapped = {table[i] for i in np.unique(city_sgc.label_map)}
    assert colours == {tuple(controlnet.palette()[t]) for t in mapped}
    assert len(mapped) >= 5


@pytest.mark.parametrize("profile", ["sd15-controlnet-seg", "ldm-semantic-512"])
def test_cli_decodes_a_cityscapes_file_with_either_profile(tiny_models, city_sgc, tmp_path, capsys,
                                                           profile):
    pytest.importorskip("torch")
    path = tmp_path / "city.sgc"
    path.write_bytes(city_sgc.to_bytes())
    before = path.read_bytes()
    out = tmp_path / "out.png"
    assert main(["decode", str(path), "--profile", profile, "--steps", "2", "-o", str(out)]) == 0
    assert "labels through the bridge cityscapes-34 → " in capsys.readouterr().out
    assert Image.open(out).size == city_sgc.size
    assert path.read_bytes() == before


def test_cli_custom_file_without_a_map_is_one_line_error(potsdam, tmp_path, capsys):
    out = tmp_path / "o.png"
    assert main(["decode", str(potsdam), "--profile", "sd15-controlnet-seg", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--vocab-map" in err
    assert not out.exists()


def test_cli_decodes_a_custom_file_through_a_vocab_map(tiny_models, potsdam, tmp_path, capsys):
    pytest.importorskip("torch")
    table = tmp_path / "map.tsv"
    table.write_text("".join(f"{n}\t{t}\n" for n, t in zip(
        POTSDAM_CLASSES, ("road", "building", "grass", "tree", "car", "box"), strict=True)))
    out = tmp_path / "out.png"
    assert main(["decode", str(potsdam), "--vocab-map", str(table), "--profile", "sd15-controlnet-seg",
                 "--steps", "2", "-o", str(out)]) == 0
    assert f"custom → ade20k-150 ({table} table" in capsys.readouterr().out
    assert out.stat().st_size > 0
