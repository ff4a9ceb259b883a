"""Display names: one short name per class for prompts, legends and `sgc info` (issue 13 #3)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sgcformat import registry
from sgcformat.cli import main
from sgcformat.codec import encode
from sgcformat.models.controlnet import build_prompt

#: The classes the old first-synonym rule cut ("chest of drawers" became "chest").
CUT_BEFORE = ("chest of drawers", "traffic light", "swimming pool", "pool table", "screen door",
              "coffee table", "kitchen island", "swivel chair", "arcade machine", "dirt track",
              "conveyer belt", "trade name", "crt screen", "bulletin board")


def test_all_150_ade_names_are_mmsegs_classes(corpus):
    """Every ADE20K display name equals mmseg's CLASSES string (the corpus JSON's short_name)."""
    classes = json.loads((corpus / "vocab" / "ade20k_150_classes_palette.json").read_text())["classes"]
    expected = [c["short_name"] for c in sorted(classes, key=lambda c: c["zero_based_index"])]
    assert list(registry.vocabulary("ade20k-150").display_names) == expected
    assert set(CUT_BEFORE) <= set(expected)


@pytest.mark.parametrize("vocab", sorted(registry.VOCABULARIES))
def test_every_vocabulary_has_one_distinct_short_name_per_class(vocab):
    v = registry.vocabulary(vocab)
    names = v.display_names
    assert len(names) == v.size
    assert all(n and ";" not in n and n == n.strip() for n in names)
    assert len(set(names)) == v.size


@pytest.mark.parametrize("name", CUT_BEFORE)
def test_prompt_keeps_every_word_of_multiword_ade_classes(name):
    names = registry.vocabulary("ade20k-150").display_names
    labels = np.full((8, 8), 2, dtype=np.uint16)  # sky
    labels[:, :5] = names.index(name)  # the larger area comes first
    assert build_prompt(labels, "ade20k-150", 3) == f"a photo of {name}, sky"


def test_prompt_names_every_ade_class_by_its_display_name():
    names = registry.vocabulary("ade20k-150").display_names
    for i, name in enumerate(names):
        assert build_prompt(np.full((2, 2), i, dtype=np.uint16), "ade20k-150", 1) == f"a photo of {name}"


def test_sgc_info_lists_display_names_not_synonym_lists(tmp_path, capsys):
    ids = np.ones((32, 48), dtype=np.uint8)  # PNG value 1 = wall
    ids[:, 24:] = 1 + registry.vocabulary("ade20k-150").display_names.index("chest of drawers")
    rgb = np.full((32, 48, 3), 128, dtype=np.uint8)
    path = tmp_path / "a.sgc"
    path.write_bytes(encode(rgb, labels=ids, vocab="ade20k-150").to_bytes())
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "classes: wall, chest of drawers" in out
    assert "chest;of;drawers" not in out
