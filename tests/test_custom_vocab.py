"""Custom vocabularies (vocabulary id 15 + the critical VOCAB chunk, spec §5.3 and §9)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import sgcformat
import sgcformat.pil  # registers the Pillow plugin
from sgcformat import cli, registry
from sgcformat.chunks import parse_vocab, vocab_payload
from sgcformat.container import Chunk, ChunkType, build, parse
from sgcformat.errors import InvalidFieldError, UnknownCriticalChunkError, VocabularyError

POTSDAM = ("impervious surfaces", "building", "low vegetation", "tree", "car", "clutter")
NYU40 = (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
    "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror",
    "floor mat", "clothes", "ceiling", "books", "refrigerator", "television", "paper", "towel",
    "shower curtain", "box", "whiteboard", "person", "night stand", "toilet", "sink", "lamp",
    "bathtub", "bag", "otherstructure", "otherfurniture", "otherprop",
)  # NYUv2's 40 classes


def scene(width=120, height=90, classes=6, seed=0) -> tuple[Image.Image, np.ndarray]:
    """A photo and a label map of vertical bands, one per class (values 0..classes-1)."""
    rng = np.random.default_rng(seed)
    band = (np.arange(width) * classes // width)[None, :].repeat(height, axis=0).astype(np.uint8)
    rgb = rng.uniform(30, 220, (classes, 3))[band] + rng.normal(0, 3, (height, width, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)), band


def test_chunk_costs_for_6_and_40_classes():
    """The figures spec §5.3 states: the whole chunk (type, length, payload)."""
    sizes = {len(names): Chunk(ChunkType.VOCAB, vocab_payload(names)).encoded_size
             for names in (POTSDAM, NYU40)}
    plain = {len(names): 1 + 2 + 1 + 1 + len("\n".join(names).encode()) for names in (POTSDAM, NYU40)}
    print(f"VOCAB chunk bytes: {sizes} (plain would be {plain})")
    assert sizes == {6: 60, 40: 195}
    assert all(sizes[n] < plain[n] for n in sizes)  # deflate kept only because it is shorter


def test_encode_stores_the_names_and_decodes_with_them():
    image, band = scene()
    vocab = registry.CustomVocabulary.from_names(POTSDAM)
    sgc = sgcformat.encode(image, labels=band, vocab=vocab)
    data = sgc.to_bytes()
    again = parse(data)
    assert again.vocab == "custom" and again.profile == "preview"
    assert again.vocabulary.class_names == POTSDAM and again.vocabulary.id == 15
    assert sorted(np.unique(again.label_map)) == list(range(6))
    assert again.class_names == list(POTSDAM)
    assert build(again) == data
    assert parse(build(again.with_seed(3))).vocabulary.class_names == POTSDAM  # rewrites keep VOCAB
    assert sgcformat.preview(again).size == image.size


def test_unlabeled_value_and_out_of_range_labels():
    image, band = scene()
    band[:5, :5] = 255  # unlabeled for up to 255 classes
    vocab = registry.CustomVocabulary.from_names(POTSDAM)
    assert sgcformat.encode(image, labels=band, vocab=vocab).label_map.max() < 6
    band[0, 0] = 6
    with pytest.raises(VocabularyError, match="not a class of custom"):
        sgcformat.encode(image, labels=band, vocab=vocab)


@pytest.mark.parametrize("names", [("a", "a"), ("a\tb",), (" a",), ("",), ("x" * 256,), ()])
def test_invalid_class_lists_are_refused_by_the_writer(names):
    with pytest.raises(ValueError):
        vocab_payload(names)


def test_pairing_of_vocab_id_and_chunk_is_checked():
    image, band = scene()
    sgc = sgcformat.encode(image, labels=band, vocab=registry.CustomVocabulary.from_names(POTSDAM))
    as_camvid = sgc.to_bytes()
    as_camvid = as_camvid[:6] + bytes([0x30]) + as_camvid[7:]  # 120x90: models byte at offset 6
    with pytest.raises(InvalidFieldError):
        parse(as_camvid[:-2] + sgcformat.container.crc16(as_camvid[:-2]).to_bytes(2, "little"))
    with pytest.raises(InvalidFieldError, match="VOCAB"):  # vocabulary 15 without its names
        sgc.with_chunk(ChunkType.VOCAB, None).to_bytes()


def test_a_reader_without_vocab_support_refuses_the_file(monkeypatch):
    """VOCAB is critical: remove it from the known chunks and the file must not open."""
    from sgcformat import container

    image, band = scene()
    vocab = registry.CustomVocabulary.from_names(POTSDAM)
    data = sgcformat.encode(image, labels=band, vocab=vocab).to_bytes()
    monkeypatch.delitem(container._PAYLOAD_CHECKS, ChunkType.VOCAB)
    with pytest.raises(UnknownCriticalChunkError):
        parse(data)


def test_parse_vocab_inverts_the_writer_for_many_classes():
    names = tuple(f"class {i}" for i in range(4096))
    assert parse_vocab(vocab_payload(names)) == names
    assert registry.CustomVocabulary.from_names(names).png_unlabeled == (65535,)


def test_cli_encode_with_a_vocab_file_and_info(tmp_path, capsys):
    image, band = scene(160, 120)
    image.save(tmp_path / "photo.png")
    Image.fromarray(band).save(tmp_path / "labels.png")
    (tmp_path / "names.txt").write_text("\n".join(POTSDAM) + "\n\n")
    out = tmp_path / "x.sgc"
    assert cli.main(["encode", str(tmp_path / "photo.png"), "-o", str(out), "--labels",
                     str(tmp_path / "labels.png"), "--vocab-file", str(tmp_path / "names.txt")]) == 0
    capsys.readouterr()
    assert cli.main(["info", "--json", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["vocab"] == "custom" and info["vocab_classes"] == list(POTSDAM)
    assert any(row["type"] == "VOCAB" for row in info["chunks"])
    assert cli.main(["info", str(out)]) == 0
    assert "custom vocabulary of 6: impervious surfaces, building" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.size == (160, 120) and im.info["vocab"] == "custom"
        im.draft("RGB", (80, 60))
        im.load()


def test_cli_refuses_vocab_and_vocab_file_together(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["encode", "a.png", "-o", "b.sgc", "--vocab", "camvid-11", "--vocab-file", "n.txt"])


def test_corpus_aerial_map_as_a_custom_vocabulary(corpus_pairs, tmp_path):
    """A real LoveDA label map, stored with its own 7 names instead of the registry entry."""
    entry = next((e for e in corpus_pairs if e["vocab"] == "loveda-7"), None)
    if entry is None:
        pytest.skip("no loveda-7 pair in the corpus")
    names = registry.vocabulary("loveda-7").class_names
    with Image.open(entry["label"]) as im:
        values = np.asarray(im).astype(np.int32)
    custom_png = np.where(values == 0, 255, values - 1).astype(np.uint8)  # LoveDA: 0 = unlabeled
    custom = sgcformat.encode(entry["image"], labels=custom_png,
                              vocab=registry.CustomVocabulary.from_names(names))
    registry_file = sgcformat.encode(entry["image"], labels=values.astype(np.uint8), vocab="loveda-7",
                                     profile="preview")
    assert np.array_equal(custom.label_map, registry_file.label_map)
    extra = len(custom.to_bytes()) - len(registry_file.to_bytes())
    # the names are all it costs, and the end-of-chunks marker a file without chunks leaves out
    assert extra == custom.chunk(ChunkType.VOCAB).encoded_size + 1
