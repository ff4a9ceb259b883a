"""The conformance vectors of spec/vectors are the contract: every reader must agree with them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sgcformat import errors
from sgcformat.container import build, parse

VECTORS = Path(__file__).resolve().parents[1] / "spec" / "vectors"
VALID = sorted((VECTORS / "valid").glob("*.sgc"))
INVALID = sorted((VECTORS / "invalid").glob("*.sgc"))


def test_vectors_exist():
    assert len(VALID) >= 5 and len(INVALID) >= 20


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_vector(path):
    data = path.read_bytes()
    expected = json.loads(path.with_suffix(".json").read_text())
    sgc = parse(data)
    assert build(sgc) == data  # canonical: parse and build are exact inverses
    assert len(data) == expected["bytes"]
    for field in ("width", "height", "vocab", "profile", "label_grid", "color_grid",
                  "color_quality", "seed"):
        assert getattr(sgc, field) == expected[field], field
    assert list(sgc.label_size) == expected["label_size"]
    assert list(sgc.color_size) == expected["color_size"]
    assert [{"type": c.type, "data_hex": c.data.hex()} for c in sgc.chunks] == expected["chunks"]
    assert np.array_equal(sgc.label_map, np.array(expected["label_map"]))
    assert np.array_equal(sgc.color_map, np.array(expected["color_map"]))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_vector(path):
    expected = json.loads(path.with_suffix(".json").read_text())
    error = getattr(errors, expected["error"])
    with pytest.raises(error):
        sgc = parse(path.read_bytes())
        sgc.label_map  # noqa: B018 - bitstream errors surface when the maps are decoded
        sgc.color_map  # noqa: B018
