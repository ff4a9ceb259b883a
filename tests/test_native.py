"""The native coder (sgcformat/coding/_native.c) matches the Python reference bit for bit.

Every comparison runs the public ``decode``/``encode`` functions twice: as installed (native) and
with ``SGC_PURE_PYTHON=1`` (the reference). Decoding must give the same array or the same
BitstreamError; label encoding must give the same bytes, because files are canonical whether or not
the extension was built.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sgcformat import maps
from sgcformat.coding import colors, labels, rangecoder, stream
from sgcformat.coding.rangecoder import Encoder
from sgcformat.container import grid_size, read
from sgcformat.errors import BitstreamError, VocabularyError
from sgcformat.registry import VOCABULARIES, vocabulary

ROOT = Path(__file__).resolve().parents[1]
NATIVE = rangecoder._native
VOCABS = [1, 2, 65535, *sorted({v.size for v in VOCABULARIES.values()}), *sorted(VOCABULARIES)]


def test_native_module_is_built_where_a_compiler_is():
    """The comparisons below skip without the module; that must only happen without a compiler."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if NATIVE is None and shutil.which(compiler):
        pytest.fail(f"{compiler} exists but sgcformat.coding._native is not built: "
                    "reinstall with `pip install -e .`")


needs_native = pytest.mark.skipif(
    NATIVE is None, reason="sgcformat.coding._native is not built (no C compiler at install time)")


def _outcome(decode, *args):
    """What a decode call gives: its array (dtype, shape, bytes) or its BitstreamError message."""
    try:
        out = decode(*args)
    except BitstreamError as exc:
        return ("error", str(exc))
    assert out.flags.c_contiguous and out.flags.writeable
    return (out.dtype.str, out.shape, out.tobytes())


def _both(decode, *args):
    """(native outcome, reference outcome)."""
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": ""}):
        native = _outcome(decode, *args)
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1"}):
        reference = _outcome(decode, *args)
    return native, reference


@needs_native
@pytest.mark.parametrize("path", sorted((ROOT / "spec" / "vectors" / "valid").glob("*.sgc")),
                         ids=lambda p: p.stem)
def test_spec_vectors_decode_identically(path):
    sgc = read(path)
    (lw, lh), (cw, ch) = sgc.label_size, sgc.color_size
    if sgc.version >= 3:
        native, reference = _both(_stream_maps, sgc.map_data, sgc.label_size, sgc.color_size,
                                  sgc.vocabulary.label_coder_key, sgc.color_quality)
        assert native == reference and native[1] == (lw * lh + cw * ch * 3,)
        return
    native, reference = _both(labels.decode, sgc.label_data, lw, lh, sgc.vocabulary.label_coder_key)
    assert native == reference and native[0] == np.dtype(np.uint16).str
    given = sgc.label_map if sgc.version >= 2 else None
    native, reference = _both(_colors_v, sgc.color_data, cw, ch, sgc.color_quality, sgc.version, given)
    assert native == reference and native[1] == (ch, cw, 3)


def _colors_v(data, cols, rows, quality, version, given):
    """colors.decode with the version and label map as positional arguments (for _both)."""
    return colors.decode(data, cols, rows, quality, version=version, labels=given)


@st.composite
def label_maps(draw):
    """1..64 cells a side, 1..k classes of any vocabulary: blocky regions, stripes or noise."""
    vocab = draw(st.sampled_from(VOCABS))
    size = VOCABULARIES[vocab].size if isinstance(vocab, str) else vocab
    rows, cols = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    n_classes = draw(st.integers(1, min(size, 80)))
    classes = draw(st.lists(st.integers(0, size - 1), min_size=n_classes, max_size=n_classes,
                            unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["blocks", "stripes", "noise"]))
    if kind == "blocks":
        block = draw(st.integers(2, 12))
        coarse = rng.choice(classes, size=(-(-rows // block), -(-cols // block)))
        ids = np.kron(coarse, np.ones((block, block), dtype=np.int64))[:rows, :cols]
    elif kind == "stripes":  # diagonal boundaries code differently mirrored
        yy, xx = np.mgrid[0:rows, 0:cols]
        ids = np.asarray(classes)[((xx + 2 * yy) // draw(st.integers(1, 9))) % n_classes]
    else:
        ids = rng.choice(classes, size=(rows, cols))
    return ids.astype(draw(st.sampled_from([np.uint16, np.int32, np.int64]))), vocab


@needs_native
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_maps())
def test_label_maps_decode_identically(case):
    ids, vocab = case
    data = labels.encode(ids, vocab)
    native, reference = _both(labels.decode, data, ids.shape[1], ids.shape[0], vocab)
    assert native == reference == (np.dtype(np.uint16).str, ids.shape, ids.astype(np.uint16).tobytes())


@needs_native
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 64), st.integers(1, 64), st.integers(0, colors.QUALITY_LEVELS - 1),
       st.integers(0, 2**32 - 1), st.booleans())
def test_colour_maps_decode_identically(rows, cols, quality, seed, smooth):
    rng = np.random.default_rng(seed)
    if smooth:
        yy, xx = np.mgrid[0:rows, 0:cols]
        rgb = np.clip(rng.integers(0, 256, 3) + np.stack([yy * 3, xx * 2, -yy - xx], axis=-1), 0, 255)
    else:
        rgb = rng.integers(0, 256, size=(rows, cols, 3))
    data = colors.encode(rgb.astype(np.uint8), quality)
    native, reference = _both(colors.decode, data, cols, rows, quality)
    assert native == reference and native[1] == (rows, cols, 3)


@needs_native
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_maps(), st.integers(1, 48), st.integers(1, 48), st.integers(0, colors.QUALITY_LEVELS - 1),
       st.integers(0, 2**32 - 1))
def test_version_2_colour_maps_decode_identically(case, rows, cols, quality, seed):
    """Version 2 predicts from the label map: label grids finer, coarser or unrelated in shape."""
    ids, _ = case
    rng = np.random.default_rng(seed)
    cy = (2 * np.arange(rows) + 1) * ids.shape[0] // (2 * rows)
    cx = (2 * np.arange(cols) + 1) * ids.shape[1] // (2 * cols)
    palette = rng.integers(0, 256, (int(ids.max()) + 1, 3))
    rgb = np.clip(palette[ids[cy][:, cx]] + rng.integers(-30, 30, (rows, cols, 3)), 0, 255)
    data = colors.encode(rgb.astype(np.uint8), quality, version=2, labels=ids)
    native, reference = _both(_colors_v, data, cols, rows, quality, 2, ids)
    assert native == reference and native[1] == (rows, cols, 3)


@needs_native
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=120), st.integers(1, 24), st.integers(1, 24), st.sampled_from(VOCABS))
def test_label_garbage_gives_the_same_map_or_error(data, cols, rows, vocab):
    native, reference = _both(labels.decode, data, cols, rows, vocab)
    assert native == reference


@needs_native
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=160), st.integers(1, 24), st.integers(1, 24),
       st.integers(0, colors.QUALITY_LEVELS - 1))
def test_colour_garbage_gives_the_same_map_or_error(data, cols, rows, quality):
    native, reference = _both(colors.decode, data, cols, rows, quality)
    assert native == reference
    given = np.arange(cols * rows).reshape(rows, cols)[::-1] % 5
    native, reference = _both(_colors_v, data, cols, rows, quality, 2, given)
    assert native == reference


@needs_native
@pytest.mark.parametrize("vocab", ["ade20k-150", 182, 7])
def test_truncated_and_corrupted_payloads_agree(vocab):
    """Every prefix and every single-byte corruption of real payloads, both bitstreams."""
    rng = np.random.default_rng(5)
    coarse = rng.integers(0, 7, size=(5, 6))
    ids = np.kron(coarse, np.ones((6, 6), dtype=np.int64))[:28, :33].astype(np.uint16)
    rgb = np.clip(ids[::2, ::2, None] * 20 + rng.integers(0, 40, (14, 17, 3)), 0, 255).astype(np.uint8)
    cases = [(labels.decode, labels.encode(ids, vocab), 33, 28, (vocab,)),
             (colors.decode, colors.encode(rgb, 8), 17, 14, (8,)),
             (_colors_v, colors.encode(rgb, 8, version=2, labels=ids), 17, 14, (8, 2, ids))]
    errors = set()
    for decode, data, cols, rows, extra in cases:
        variants = [data[:n] for n in range(len(data))] + [data + b"\x01"]
        for i in range(len(data)):
            variants.append(data[:i] + bytes([data[i] ^ (1 << (i % 8))]) + data[i + 1:])
        for variant in variants:
            native, reference = _both(decode, variant, cols, rows, *extra)
            assert native == reference
            if native[0] == "error":
                errors.add(native[1].split()[0])
    assert len(errors) > 2  # the corruptions reach several different checks


@needs_native
def test_large_vocabulary_garbage_agrees():
    """Rank escapes over thousands of classes (the bit-tree, the recency order) on a bigger grid."""
    data = bytes(np.random.default_rng(11).integers(0, 256, 400, dtype=np.uint8))
    for payload in (data, b"\x7f" * 400, b"\x3a\x10" + data):
        native, reference = _both(labels.decode, payload, 40, 30, 65535)
        assert native == reference


def test_pure_python_switch_bypasses_the_native_coder(monkeypatch):
    calls = []

    class Spy:
        def decode_labels(self, *args):
            calls.append("labels")
            return bytearray(2 * 4)

        def decode_colors(self, *args):
            calls.append("colors")
            return bytearray(3 * 4)

        def decode_colors_v2(self, *args):
            calls.append("colors v2")
            return bytearray(3 * 4)

        def encode_colors(self, *args):
            calls.append("encode colors")
            return b"spy"

    given = np.array([[0, 1], [1, 0]])
    label_data = labels.encode(given, 7)
    colour_data = colors.encode(np.zeros((2, 2, 3), np.uint8))
    monkeypatch.setattr(rangecoder, "_native", Spy())
    monkeypatch.setenv("SGC_PURE_PYTHON", "1")
    assert labels.decode(label_data, 2, 2, 7).tolist() == [[0, 1], [1, 0]]
    colors.decode(colour_data, 2, 2)
    colors.decode(colors.encode(np.zeros((2, 2, 3), np.uint8), version=2, labels=given), 2, 2,
                  version=2, labels=given)
    assert calls == []
    monkeypatch.delenv("SGC_PURE_PYTHON")
    assert labels.decode(label_data, 2, 2, 7).tolist() == [[0, 0], [0, 0]]
    colors.decode(colour_data, 2, 2)
    colors.decode(colour_data, 2, 2, version=2, labels=given)
    assert colors.encode(np.zeros((2, 2, 3), np.uint8), version=2, labels=given) == b"spy"
    assert calls == ["labels", "colors", "colors v2", "encode colors"]


@needs_native
def test_native_rejects_malformed_tables():
    """The tables come from Python; a wrong one is a ValueError, never an out-of-bounds read."""
    args = (b"", 2, 2, 7, None, labels._NATIVE_MATCH_INIT, labels._NATIVE_RANK_INIT,
            rangecoder.NATIVE_SHIFTS)
    with pytest.raises(ValueError, match="match_init"):
        NATIVE.decode_labels(*args[:5], args[5][:-2], *args[6:])
    with pytest.raises(ValueError, match="shifts"):
        NATIVE.decode_labels(*args[:7], b"\x02\x02")
    bad_count = bytearray(args[6])
    bad_count[2:4] = (7).to_bytes(2, "little")  # a context count beyond SHIFTS
    with pytest.raises(ValueError, match="rank_init"):
        NATIVE.decode_labels(*args[:6], bytes(bad_count), args[7])
    with pytest.raises(ValueError, match="prior"):
        NATIVE.decode_labels(b"", 2, 2, 150, b"\x00\x00" * 150, *args[5:])
    steps, limits, init, shifts = colors._native_tables(20, 1)
    with pytest.raises(ValueError, match="steps"):
        NATIVE.decode_colors(b"", 2, 2, steps[:-4], limits, init, shifts)
    with pytest.raises(ValueError, match="init"):
        NATIVE.decode_colors(b"", 2, 2, steps, limits, b"\x00\x00" * 70, shifts)
    local = np.array([0, 1, 1, 0], np.uint16).tobytes()
    tables = colors._native_tables(20, 2)
    with pytest.raises(ValueError, match="local"):
        NATIVE.decode_colors_v2(b"", 2, 2, *tables, local[:-2], 2, 2, 2)
    with pytest.raises(ValueError, match="local"):
        NATIVE.decode_colors_v2(b"", 2, 2, *tables, local, 2, 2, 1)  # an index >= k
    with pytest.raises(ValueError, match="local"):
        NATIVE.decode_colors_v2(b"", 2, 2, *tables, local, 2, 2, 3)  # class 2 never occurs


# --- label encoder --------------------------------------------------------------------------------


def _encode(ids, vocab, pure: bool) -> bytes:
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1" if pure else ""}):
        return labels.encode(ids, vocab)


def _decode(data, ids, vocab, pure: bool) -> np.ndarray:
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1" if pure else ""}):
        return labels.decode(data, ids.shape[1], ids.shape[0], vocab)


def _check(ids, vocab) -> bytes:
    """Native and reference payloads are equal and decode (both ways) to ``ids``; returns it."""
    native = _encode(ids, vocab, pure=False)
    assert native == _encode(ids, vocab, pure=True)
    for pure in (False, True):
        np.testing.assert_array_equal(_decode(native, ids, vocab, pure), ids)
    return native


def _plain_payload(ids, vocab) -> bytes:
    """The payload of the map coded without mirroring."""
    enc = Encoder()
    labels.code_map(enc, np.asarray(ids), vocab, mirror=False)
    return enc.finish()


@needs_native
@pytest.mark.parametrize("path", sorted((ROOT / "spec" / "vectors" / "valid").glob("*.sgc")),
                         ids=lambda p: p.stem)
def test_spec_vectors_encode_to_their_payload(path):
    sgc = read(path)
    key = sgc.vocabulary.label_coder_key
    if sgc.version >= 3:  # the label coder's open state, then the whole stream
        with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": ""}):
            native = labels.encode_open(sgc.label_map, key)
        with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1"}):
            assert labels.encode_open(sgc.label_map, key) == native
        return
    payload = _check(sgc.label_map, key)
    if path.stem not in NOT_ENCODER_OUTPUT:
        assert payload == sgc.label_data


#: Valid vectors whose label payload is decodable but not what an encoder writes.
NOT_ENCODER_OUTPUT = {"labels-unused-class-in-set"}  # a class in the set that no cell uses


@needs_native
def test_corpus_maps_encode_identically(corpus_pairs):
    """Every corpus label map at several grid sizes; both mirror choices must occur."""
    mirrored = plain = 0
    for entry in corpus_pairs:
        with Image.open(entry["label"]) as im:
            ids = vocabulary(entry["vocab"]).labels_from_png(np.asarray(im))
        for long_side in (5, 16, 32, 48, 64):
            grid = maps.label_map(ids, grid_size(long_side, ids.shape[1], ids.shape[0]))
            payload = _check(grid, entry["vocab"])
            if len(np.unique(grid)) > 1:
                if payload == _plain_payload(grid, entry["vocab"]):
                    plain += 1
                else:
                    mirrored += 1
    assert mirrored and plain, (mirrored, plain)


@needs_native
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_maps())
def test_random_maps_encode_identically(case):
    _check(*case)


@needs_native
def test_many_classes_use_the_rank_tree():
    """Escapes deep into the recency order (bit-tree ranks), sparse ids of a huge vocabulary."""
    rng = np.random.default_rng(3)
    ids = rng.choice(rng.choice(65535, 600, replace=False), size=(40, 40))
    _check(ids.astype(np.uint16), 65535)
    _check(np.arange(32 * 32).reshape(32, 32) % 700, 700)


@needs_native
def test_non_contiguous_input():
    ids = np.kron(np.arange(12).reshape(3, 4), np.ones((5, 7), dtype=np.int64))
    view = ids.T[::2, 1:]
    assert not view.flags.c_contiguous
    _check(view, 182)


@needs_native
def test_native_rejects_what_python_would_have():
    """Input validation stays in Python; the native function still refuses bad arguments."""
    tables = (None, labels._NATIVE_MATCH_INIT, labels._NATIVE_RANK_INIT, rangecoder.NATIVE_SHIFTS)
    ids = np.array([[0, 1], [2, 6]], dtype=np.uint16).tobytes()
    assert NATIVE.encode_labels(ids, 2, 2, 7, *tables) == _encode(np.array([[0, 1], [2, 6]]), 7, True)
    with pytest.raises(ValueError, match="ids"):
        NATIVE.encode_labels(ids[:-2], 2, 2, 7, *tables)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        NATIVE.encode_labels(ids, 2, 2, 6, *tables)
    with pytest.raises(ValueError, match="match_init"):
        NATIVE.encode_labels(ids, 2, 2, 7, None, tables[1][:-2], *tables[2:])
    with pytest.raises(ValueError, match="prior"):
        NATIVE.encode_labels(ids, 2, 2, 7, b"\x00\x04" * 6, *tables[1:])
    with pytest.raises(VocabularyError, match="outside the vocabulary"):
        labels.encode(np.array([[0, 7]]), 7)


@needs_native
def test_pure_python_switch_bypasses_the_native_encoder(monkeypatch):
    calls = []

    class Spy:
        def encode_labels(self, *args):
            calls.append(args[1:4])
            return b"spy"

    monkeypatch.setattr(rangecoder, "_native", Spy())
    ids = np.array([[0, 1, 1], [1, 0, 2]])
    monkeypatch.setenv("SGC_PURE_PYTHON", "1")
    reference = labels.encode(ids, 7)
    assert reference != b"spy" and calls == []
    monkeypatch.delenv("SGC_PURE_PYTHON")
    assert labels.encode(ids, 7) == b"spy"
    assert calls == [(3, 2, 7)]


# --- colour encoder -------------------------------------------------------------------------------


def _colour_payloads(rgb, quality, version, given):
    """(native, reference) colour payloads."""
    out = []
    for pure in ("", "1"):
        with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": pure}):
            out.append(colors.encode(rgb, quality, version=version, labels=given))
    return out


@needs_native
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_maps(), st.integers(1, 40), st.integers(1, 40), st.integers(0, colors.QUALITY_LEVELS - 1),
       st.integers(0, 2**32 - 1), st.sampled_from(["smooth", "regions", "noise"]), st.sampled_from([1, 2]))
def test_colour_encoders_write_the_same_bytes(case, rows, cols, quality, seed, kind, version):
    """Native and reference encoders make the same floating-point level choices, bit for bit."""
    ids, _ = case
    rng = np.random.default_rng(seed)
    if kind == "smooth":
        yy, xx = np.mgrid[0:rows, 0:cols]
        rgb = rng.integers(0, 256, 3) + np.stack([yy * 3, xx * 2, -yy - xx], axis=-1)
    elif kind == "regions":
        cy = (2 * np.arange(rows) + 1) * ids.shape[0] // (2 * rows)
        cx = (2 * np.arange(cols) + 1) * ids.shape[1] // (2 * cols)
        palette = rng.integers(0, 256, (int(ids.max()) + 1, 3))
        rgb = palette[ids[cy][:, cx]] + rng.integers(-9, 9, (rows, cols, 3))
    else:
        rgb = rng.integers(0, 256, (rows, cols, 3))
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    native, reference = _colour_payloads(rgb, quality, version, ids if version == 2 else None)
    assert native == reference


@needs_native
def test_corpus_colour_maps_encode_identically(corpus_pairs):
    for entry in corpus_pairs[::2]:
        rgb = np.asarray(Image.open(entry["image"]).convert("RGB"))
        h, w = rgb.shape[:2]
        with Image.open(entry["label"]) as im:
            ids = vocabulary(entry["vocab"]).labels_from_png(np.asarray(im))
        given = maps.label_map(ids, grid_size(maps.default_long_side(w, h, 1024), w, h))
        for cells, quality in ((256, 8), (64, 3), (1024, 14)):
            cmap = maps.color_map(rgb, grid_size(maps.default_long_side(w, h, cells), w, h))
            for version in (1, 2):
                native, reference = _colour_payloads(cmap, quality, version, given)
                assert native == reference, (entry["image"], cells, quality, version)


@needs_native
def test_native_colour_encoder_rejects_bad_tables():
    steps, _, init, shifts = colors._native_tables(20, 1)
    rgb = np.full((2, 2, 3), 99, np.uint8)
    lam = colors._LAMBDA[1] * 400
    args = (rgb, 2, 2, steps, init, shifts, colors._NATIVE_GAINS, lam, colors._NATIVE_LOG2)
    assert NATIVE.encode_colors(*args) == colors.encode(rgb, 8)  # quality 8: base step 20
    with pytest.raises(ValueError, match="init"):
        NATIVE.encode_colors(*args[:4], init[:-2], *args[5:])
    with pytest.raises(ValueError, match="init"):  # version 2 has 78 contexts
        NATIVE.encode_colors(*args, np.zeros(4, np.uint16).tobytes(), 2, 2, 1)
    with pytest.raises(ValueError, match="encode_colors"):
        NATIVE.encode_colors(rgb[:1], *args[1:])


# -- file version 3: one stream for both maps (coding §7) ------------------------------------


def _stream_maps(data: bytes, label_size, color_size, vocab, quality) -> np.ndarray:
    """Both maps of a version 3 stream, flattened into one array (for :func:`_both`)."""
    ids, after = stream.decode_labels(data, label_size, vocab)
    rgb = stream.decode_colors(data, color_size, quality, ids, after)
    return np.concatenate([ids.ravel().astype(np.int32), rgb.ravel().astype(np.int32)])


@needs_native
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 6), st.integers(1, 4),
       st.integers(0, 2**32 - 1), st.integers(0, 18), st.sampled_from(VOCABS))
def test_version_3_stream_native_equals_reference(cols, rows, k, block, seed, quality, vocab):
    rng = np.random.default_rng(seed)
    size = vocab if isinstance(vocab, int) else vocabulary(vocab).size
    classes = rng.choice(size, min(k, size), replace=False)
    ids = classes[rng.integers(0, len(classes), (-(-rows // block), -(-cols // block)))]
    ids = np.kron(ids, np.ones((block, block), dtype=ids.dtype))[:rows, :cols]
    cw, ch = grid_size(max(1, max(cols, rows) // 2), cols, rows)
    rgb = rng.integers(0, 256, (ch, cw, 3), dtype=np.uint8)
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": ""}):
        native_state, native = labels.encode_open(ids, vocab), stream.encode(ids, vocab, rgb, quality)
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1"}):
        reference_state, reference = labels.encode_open(ids, vocab), stream.encode(ids, vocab, rgb, quality)
    assert native_state == reference_state  # the label coder hands over the same open encoder
    assert native == reference
    native_out, reference_out = _both(_stream_maps, native, (cols, rows), (cw, ch), vocab, quality)
    assert native_out == reference_out
    assert np.array_equal(np.frombuffer(native_out[2], np.int32)[:ids.size], ids.ravel())


@needs_native
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=80), st.integers(1, 30), st.integers(1, 30), st.integers(0, 18))
def test_version_3_stream_decoders_agree_on_any_bytes(data, cols, rows, quality):
    cw, ch = grid_size(max(1, max(cols, rows) // 3), cols, rows)
    native, reference = _both(_stream_maps, data, (cols, rows), (cw, ch), "camvid-11", quality)
    assert native == reference


def _forced_length(ids, vocab, orientation) -> int:
    """Bytes of the label map alone coded in one (mirror, transpose) orientation (the reference
    coder: the native one makes its choice inside)."""
    with (mock.patch.object(labels, "_orientations", lambda version, several: [orientation]),
          mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1"})):
        return len(Encoder(labels.encode_open(ids, vocab)).finish())


@pytest.mark.parametrize("pure", [False, True], ids=["native", "reference"])
def test_version_3_keeps_the_shortest_orientation(pure):
    """The encoder codes the four orientations of coding §3.3 and keeps the shortest (the first
    on ties); the stream's mirror and transpose bits say which, and the decoder turns it back."""
    rng = np.random.default_rng(5)
    chosen = []
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1" if pure else ""}):
        for _ in range(12):
            rows, cols = rng.integers(6, 24, 2)
            blocks = rng.integers(0, 4, (rows // 3 + 1, cols // 2 + 1))
            ids = np.kron(blocks, np.ones((3, 2), int))[:rows, :cols]
            orientations = [(m, t) for t in (False, True) for m in (False, True)]
            lengths = [_forced_length(ids, 11, o) for o in orientations]
            data = stream.encode(ids, 11, np.zeros((3, 3, 3), np.uint8), 8)
            decoded, _ = stream.decode_labels(data, (cols, rows), 11)
            np.testing.assert_array_equal(decoded, ids)
            dec = rangecoder.Decoder(data)
            labels._decode_class_set(dec, 11, None)
            bits = (bool(rangecoder.decode_bypass(dec, 1)), bool(rangecoder.decode_bypass(dec, 1)))
            assert bits == orientations[lengths.index(min(lengths))]
            chosen.append(bits)
    assert any(t for _, t in chosen) and not all(t for _, t in chosen)
