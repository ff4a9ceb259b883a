"""The conformance vectors of spec/vectors are the contract: every reader must agree with them.

Every vector's JSON is validated against the published schema (spec/vectors/schema.json),
then the reference reader is run on it: valid vectors must parse to exactly the listed fields
and maps and rebuild to the same bytes; invalid ones must raise the listed error class.
``tests/test_conformance.py`` checks the converse: that each rule is pinned by some vector.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from sgcformat import errors, registry
from sgcformat.container import build, parse

VECTORS = Path(__file__).resolve().parents[1] / "spec" / "vectors"
SCHEMA = json.loads((VECTORS / "schema.json").read_text())
VALID = sorted((VECTORS / "valid").glob("*.json"))
INVALID = sorted((VECTORS / "invalid").glob("*.json"))


def vector_bytes(json_path: Path, record: dict) -> bytes:
    """The file a vector's JSON describes (stored gzipped when it is large)."""
    if record.get("gzip"):
        return gzip.decompress(json_path.with_suffix(".sgc.gz").read_bytes())
    return json_path.with_suffix(".sgc").read_bytes()


def load_vectors() -> list[tuple[str, dict, bytes]]:
    """(name, record, file bytes) of every vector, valid first."""
    out = []
    for path in (*VALID, *INVALID):
        record = json.loads(path.read_text())
        out.append((path.stem, record, vector_bytes(path, record)))
    return out


def check_valid(record: dict, data: bytes) -> None:
    """Everything a valid vector's JSON states about its file; AssertionError on a mismatch."""
    sgc = parse(data)
    assert build(sgc) == data  # canonical: parse and build are exact inverses
    assert len(data) == record["bytes"]
    for field in ("version", "width", "height", "vocab", "profile", "label_grid", "color_grid",
                  "color_quality", "seed"):
        assert getattr(sgc, field) == record[field], field
    assert sgc.vocabulary.id == record["vocab_id"]
    assert registry.profile(sgc.profile).id == record["profile_id"]
    assert list(sgc.label_size) == record["label_size"]
    assert list(sgc.color_size) == record["color_size"]
    assert [{"type": c.type, "data_hex": c.data.hex()} for c in sgc.chunks] == record["chunks"]
    assert (data[4] if sgc.version >= 3 else None) == record["layout"]
    assert sgc.label_data.hex() == record["label_data_hex"]
    assert sgc.color_data.hex() == record["color_data_hex"]
    assert sgc.map_data.hex() == record["map_data_hex"]
    params = record["params"]
    expected = (None, None, None) if params is None else (
        params["steps"] or None, params["strength_percent"] / 100 or None,
        params["guidance_tenths"] / 10 or None)
    assert (sgc.params.steps, sgc.params.strength, sgc.params.guidance_scale) == expected
    meta, stated = sgc.metadata, record["metadata"]
    assert (meta is None) == (stated is None)
    if meta is not None:
        assert (meta.captured and meta.captured.isoformat()) == stated["captured"]
        minutes = meta.utc_offset and meta.utc_offset // dt.timedelta(minutes=1)
        assert minutes == stated["utc_offset_minutes"]
        assert (meta.gps and [round(v * 1e7) for v in meta.gps]) == stated["gps_e7"]
        assert (None if meta.altitude is None else round(meta.altitude * 10)) == stated["altitude_dm"]
        assert (meta.make, meta.model, meta.original_name) == (
            stated["make"], stated["model"], stated["original_name"])
    if record["class_names"] is not None:
        assert list(sgc.vocabulary.class_names) == record["class_names"]
    assert np.array_equal(sgc.label_map, np.array(record["label_map"]))
    assert np.array_equal(sgc.color_map, np.array(record["color_map"]))


def check_invalid(record: dict, data: bytes) -> None:
    """The file must raise exactly the listed class (or a subclass), maps decoded too."""
    error = getattr(errors, record["error"])
    try:
        sgc = parse(data)
        sgc.label_map  # noqa: B018 - bitstream errors surface when the maps are decoded
        sgc.color_map  # noqa: B018
    except error:
        return
    except Exception as exc:  # any other outcome is a conformance failure
        raise AssertionError(f"expected {record['error']}, got {type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"expected {record['error']}, the file was accepted")


def check_vector(record: dict, data: bytes) -> None:
    (check_valid if record["kind"] == "valid" else check_invalid)(record, data)


def test_vectors_exist():
    assert len(VALID) >= 15 and len(INVALID) >= 50
    every_error = {json.loads(p.read_text())["error"] for p in INVALID}
    assert every_error == set(SCHEMA["$defs"]["invalid"]["properties"]["error"]["enum"])


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", [*VALID, *INVALID], ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_vector_follows_the_schema(path):
    record = json.loads(path.read_text())
    jsonschema.validate(record, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert record["kind"] == path.parent.name


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_vector(path):
    record = json.loads(path.read_text())
    check_valid(record, vector_bytes(path, record))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_vector(path):
    record = json.loads(path.read_text())
    check_invalid(record, vector_bytes(path, record))


def test_registry_document_lists_the_registry():
    """spec/sgc-registry.md (normative class lists) says what the reference registry holds."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_registry", VECTORS.parent / "make_registry.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (VECTORS.parent / "sgc-registry.md").read_text() == module.document()
