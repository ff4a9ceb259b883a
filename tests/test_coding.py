"""Label and colour map coding: round trips, canonical payloads, bad input."""

from __future__ import annotations

import math
import random
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgcformat.coding import colors, labels, rangecoder
from sgcformat.errors import BitstreamError, VocabularyError
from sgcformat.registry import VOCABULARIES

VOCAB_SIZES = sorted({v.size for v in VOCABULARIES.values()} | {1, 2, 65535})


# --- range coder ----------------------------------------------------------------------------


@given(st.lists(st.tuples(st.integers(0, 7), st.booleans()), max_size=400))
def test_range_coder_round_trip(events):
    enc = rangecoder.Encoder()
    probs = rangecoder.contexts(8)
    for ctx, bit in events:
        enc.bit(probs, ctx, bit)
    data = enc.finish()
    assert not data.endswith(b"\x00")
    dec = rangecoder.Decoder(data)
    probs = rangecoder.contexts(8)
    assert [dec.bit(probs, ctx) for ctx, _ in events] == [int(b) for _, b in events]
    dec.finish()


def test_range_coder_flush_is_minimal():
    # A run of very likely bits costs far less than a byte each; the flush adds at most one byte
    # beyond the information content.
    enc = rangecoder.Encoder()
    probs = rangecoder.contexts(1)
    for _ in range(200):
        enc.bit(probs, 0, 0)
    assert len(enc.finish()) <= 1
    assert rangecoder.Encoder().finish() == b""


def test_range_coder_carry_propagation():
    # Bits coded with p(0) = 1/2048 push `low` up on every 1: carries must ripple into 0xFF runs.
    rng = random.Random(1)
    bits = [rng.random() < 0.999 for _ in range(5000)]
    enc = rangecoder.Encoder()
    for b in bits:
        enc.fixed(1, b)
    data = enc.finish()
    dec = rangecoder.Decoder(data)
    assert [dec.fixed(1) for _ in bits] == [int(b) for b in bits]


def test_decoder_rejects_non_canonical_payloads():
    enc = rangecoder.Encoder()
    probs = rangecoder.contexts(1)
    for bit in (1, 0, 1, 1, 0, 0, 1):
        enc.bit(probs, 0, bit)
    data = enc.finish()
    for bad in (data + b"\x00", data + b"\x01" * 5):
        dec = rangecoder.Decoder(bad)
        probs = rangecoder.contexts(1)
        for _ in range(7):
            dec.bit(probs, 0)
        with pytest.raises(BitstreamError):
            dec.finish()
    with pytest.raises(BitstreamError):
        rangecoder.Decoder(b"\xff\xff\xff\xff")


# --- label maps -----------------------------------------------------------------------------


@st.composite
def label_maps(draw):
    # A registry name (with or without a presence prior) or a bare vocabulary size.
    vocab = draw(st.sampled_from([*VOCAB_SIZES, *sorted(VOCABULARIES)]))
    size = VOCABULARIES[vocab].size if isinstance(vocab, str) else vocab
    rows, cols = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    n_classes = draw(st.integers(1, min(size, 40)))
    classes = draw(st.lists(st.integers(0, size - 1), min_size=n_classes, max_size=n_classes,
                            unique=True))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):  # blocky regions, like real maps
        coarse = rng.choice(classes, size=(max(1, rows // 8), max(1, cols // 8)))
        ids = np.kron(coarse, np.ones((8, 8), dtype=np.int64))[:rows, :cols]
        ids = np.pad(ids, ((0, rows - ids.shape[0]), (0, cols - ids.shape[1])), mode="edge")
    else:
        ids = rng.choice(classes, size=(rows, cols))
    return ids.astype(np.uint16), vocab


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_maps())
def test_label_round_trip(case):
    ids, vocab = case
    data = labels.encode(ids, vocab)
    back = labels.decode(data, ids.shape[1], ids.shape[0], vocab)
    assert back.dtype == np.uint16 and back.shape == ids.shape
    np.testing.assert_array_equal(back, ids)


@pytest.mark.parametrize("shape", [(1, 1), (1, 37), (29, 1), (2, 2)])
@pytest.mark.parametrize("vocab", [1, 11, 182])
def test_label_round_trip_edge_shapes(shape, vocab):
    ids = (np.arange(np.prod(shape)).reshape(shape) * 7 % vocab).astype(np.uint16)
    data = labels.encode(ids, vocab)
    np.testing.assert_array_equal(labels.decode(data, shape[1], shape[0], vocab), ids)


def test_uniform_map_is_tiny_and_class_set_is_cheap():
    ids = np.full((32, 32), 17, dtype=np.uint16)
    # One class out of 182: about log2(182) + 1 bits for the set, nothing for the cells.
    assert len(labels.encode(ids, 182)) <= 2
    regions = np.zeros((32, 32), dtype=np.uint16)
    regions[:, 16:] = 5
    regions[20:, :] = 120
    assert len(labels.encode(regions, 182)) < 20


def test_label_encode_rejects_ids_outside_vocab():
    with pytest.raises(VocabularyError):
        labels.encode(np.array([[0, 11]], dtype=np.uint16), 11)
    with pytest.raises(VocabularyError):
        labels.encode(np.array([[-1, 0]]), 11)
    with pytest.raises(VocabularyError):
        labels.encode(np.zeros((2, 2), dtype=np.uint8), 0)


def test_class_set_beyond_vocab_raises():
    # A payload written for a 182-class vocabulary names class 150..181 ids: reading it
    # as an 11-class vocabulary must not produce ids >= 11.
    ids = np.array([[3, 170], [170, 181]], dtype=np.uint16)
    data = labels.encode(ids, 182)
    try:
        back = labels.decode(data, 2, 2, 11)
    except BitstreamError:
        return
    assert back.max() < 11


def test_class_count_larger_than_vocab_raises():
    # Hand-built class set: k - 1 = 3 in Exp-Golomb of order 1 (k + 1 = 5 = 2^2 + 1) for a
    # 3-class vocabulary.
    enc = rangecoder.Encoder()
    rangecoder.encode_bypass(enc, 2, 0b10)
    rangecoder.encode_bypass(enc, 2, 0b01)
    with pytest.raises(BitstreamError, match="classes present"):
        labels.decode(enc.finish(), 4, 4, 3)


def _decode_garbage(decode, payloads):
    worst = 0.0
    for data in payloads:
        start = time.perf_counter()
        try:
            out = decode(data)
        except BitstreamError:
            pass
        else:
            assert out is not None
        worst = max(worst, time.perf_counter() - start)
    return worst


def test_label_garbage_and_truncation_terminate():
    rng = random.Random(7)
    ids = np.random.default_rng(3).integers(0, 9, size=(32, 32)).astype(np.uint16)
    data = labels.encode(ids, 182)
    payloads = [data[:n] for n in range(len(data))]
    payloads += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))) for _ in range(60)]
    payloads += [b"\xff" * 4000, b"\x00" * 10]
    for vocab in (7, 182, 65535, "ade20k-150"):
        _decode_garbage(lambda d, v=vocab: labels.decode(d, 32, 32, v), payloads)
    # Large grids and vocabularies stay bounded too: each cell costs at most a few dozen bins.
    _decode_garbage(lambda d: labels.decode(d, 255, 255, 65535), [b"\x7f" * 3000])


def test_encoder_keeps_the_shorter_of_map_and_mirror():
    # A map whose mirror image codes shorter is stored mirrored, and decodes the right way round.
    rng = np.random.default_rng(11)
    for _ in range(20):
        ids = np.kron(rng.integers(0, 5, (5, 5)), np.ones((5, 5), dtype=np.int64))[:23, :21]
        both = []
        for mirror in (False, True):
            enc = rangecoder.Encoder()
            labels.code_map(enc, ids, 182, mirror)
            both.append(enc.finish())
        data = labels.encode(ids, 182)
        assert data == min(both, key=len)
        for payload in both:
            np.testing.assert_array_equal(labels.decode(payload, 21, 23, 182), ids)
        if len(both[1]) < len(both[0]):
            return
    pytest.fail("no map in the sample coded shorter mirrored")


def test_presence_prior_pays_for_common_classes():
    # ADE20K's prior makes wall + floor + ceiling far cheaper than three rare classes; a bare
    # size of 150 (no prior) codes both sets alike.
    common, rare = np.array([[0, 3, 5]], dtype=np.uint16), np.array([[96, 103, 110]], dtype=np.uint16)
    assert len(labels.encode(common, "ade20k-150")) < len(labels.encode(rare, "ade20k-150"))
    assert len(labels.encode(common, 150)) == len(labels.encode(rare, 150))


def test_empty_class_set_raises():
    # Every presence bit 0 under the ade20k-150 prior: an empty set is no label map.
    enc = rangecoder.Encoder()
    for p1 in labels.PRESENCE["ade20k-150"]:
        enc.fixed(rangecoder.PROB_ONE - p1, 0)
    with pytest.raises(BitstreamError, match="empty"):
        labels.decode(enc.finish(), 4, 4, "ade20k-150")


def test_presence_priors_match_the_spec():
    spec = (Path(__file__).resolve().parent.parent / "spec" / "sgc-coding.md").read_text()
    appendix = spec[spec.index("## Appendix B"):]
    for name, prior in labels.PRESENCE.items():
        block = appendix[appendix.index(f"`{name}`"):].split("```")[1]
        assert tuple(int(v) for v in block.replace("\n", " ").split(",")) == prior
        assert len(prior) == VOCABULARIES[name].size and all(1 <= p <= 2047 for p in prior)


def test_label_tables_match_the_spec():
    # The normative appendix is the contract: the code's table and levels must be exactly it.
    spec = (Path(__file__).resolve().parent.parent / "spec" / "sgc-coding.md").read_text()
    appendix = spec[spec.index("## Appendix A"):]
    table = "".join(re.findall(r"^([0-9a-f]{64})$", appendix, flags=re.M))
    assert table == labels._INIT_TABLE
    rank = re.search(r"`RANK_TABLE`: 8 hex digits.*?`([0-9a-f]{8})`", appendix, flags=re.S)[1]
    assert rank == labels._RANK_TABLE
    levels = tuple(int(v) for v in re.search(r"^`([0-9, ]+)`$", appendix, flags=re.M)[1].split(","))
    assert levels == labels.INIT_LEVELS
    assert levels == tuple(round(2048 / (1 + math.exp(-0.55 * (q - 8)))) for q in range(1, 16))


def test_bit_mean_codes_with_the_mean_and_updates_every_context():
    rng = random.Random(5)
    bits = [rng.random() < 0.3 for _ in range(400)]
    picks = [tuple(rng.sample(range(6), 3)) for _ in bits]
    enc_probs, dec_probs = rangecoder.contexts(6), rangecoder.contexts(6)
    enc = rangecoder.Encoder()
    for b, idx in zip(bits, picks, strict=True):
        enc.bit_mean(enc_probs, idx, b)
    dec = rangecoder.Decoder(enc.finish())
    assert [bool(dec.bit_mean(dec_probs, idx)) for idx in picks] == bits
    dec.finish()
    # Each context saw exactly the bits coded with it, as if coded alone with Encoder.bit.
    alone = rangecoder.contexts(6)
    for b, idx in zip(bits, picks, strict=True):
        for i in idx:
            rangecoder.Encoder().bit(alone, i, b)
    assert enc_probs == dec_probs == alone


# --- colour maps ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, colors.QUALITY_LEVELS - 1),
       st.integers(0, 2**32 - 1), st.booleans())
def test_color_round_trip_is_deterministic_and_bounded(rows, cols, quality, seed, smooth):
    rng = np.random.default_rng(seed)
    if smooth:
        yy, xx = np.mgrid[0:rows, 0:cols]
        base = rng.integers(0, 256, 3) + np.stack([yy * 3, xx * 2, -yy - xx], axis=-1)
        rgb = np.clip(base, 0, 255).astype(np.uint8)
    else:
        rgb = rng.integers(0, 256, size=(rows, cols, 3), dtype=np.uint8)
    data = colors.encode(rgb, quality)
    a = colors.decode(data, cols, rows, quality)
    b = colors.decode(bytes(data), cols, rows, quality)
    assert a.dtype == np.uint8 and a.shape == rgb.shape
    np.testing.assert_array_equal(a, b)
    # Every coefficient is within one step of its band's value (the encoder picks ⌊v⌋, ⌊v⌋ + 1 or,
    # within a step, the prediction); the 5/3 synthesis and YCoCg-R spread that over ≲ 3 base
    # steps per channel, plus the lifting's rounding.
    bound = 4 * colors.STEPS[quality] + 4
    assert np.abs(a.astype(int) - rgb.astype(int)).max() <= bound


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 50), st.integers(1, 50),
       st.integers(0, colors.QUALITY_LEVELS - 1), st.integers(0, 2**32 - 1))
def test_version_2_round_trip_is_deterministic_and_bounded(rows, cols, label_rows, label_cols,
                                                           quality, seed):
    """Any label grid (finer, coarser, any shape); the same error bound as version 1."""
    rng = np.random.default_rng(seed)
    given = rng.integers(0, 4, (label_rows, label_cols)) * 7
    rgb = rng.integers(0, 256, size=(rows, cols, 3), dtype=np.uint8)
    data = colors.encode(rgb, quality, version=2, labels=given)
    a = colors.decode(data, cols, rows, quality, version=2, labels=given)
    np.testing.assert_array_equal(a, colors.decode(bytes(data), cols, rows, quality, version=2,
                                                   labels=given.astype(np.uint16)))
    assert np.abs(a.astype(int) - rgb.astype(int)).max() <= 4 * colors.STEPS[quality] + 4


def test_version_2_depends_on_the_label_map():
    """Decoding with another label map gives other colours; no label map is an error."""
    yy, xx = np.mgrid[0:12, 0:16]
    given = (xx > 5 + yy // 3).astype(int)
    rgb = np.where(given[..., None] == 1, [200, 40, 30], [20, 90, 220]).astype(np.uint8)
    data = colors.encode(rgb, 8, version=2, labels=given)
    right = colors.decode(data, 16, 12, 8, version=2, labels=given)
    assert np.abs(right.astype(int) - rgb).max() < 40
    try:
        other = colors.decode(data, 16, 12, 8, version=2, labels=given.T[:12, :12])
    except BitstreamError:  # the contexts follow the label map too, so it may not even parse
        other = None
    assert other is None or not np.array_equal(other, right)
    with pytest.raises(ValueError, match="label map"):
        colors.decode(data, 16, 12, 8, version=2)
    with pytest.raises(BitstreamError, match="version 3"):
        colors.decode(data, 16, 12, 8, version=3, labels=given)


def test_version_2_is_smaller_on_the_corpus(corpus_pairs):
    """Predicting detail bands from the label regions pays: fewer bytes, no worse error."""
    from PIL import Image

    from sgcformat import maps
    from sgcformat.container import grid_size
    from sgcformat.registry import vocabulary

    sizes, errors = {1: 0, 2: 0}, {1: 0.0, 2: 0.0}
    for entry in corpus_pairs[::3]:
        rgb = np.asarray(Image.open(entry["image"]).convert("RGB"))
        h, w = rgb.shape[:2]
        with Image.open(entry["label"]) as im:
            ids = vocabulary(entry["vocab"]).labels_from_png(np.asarray(im))
        cmap = maps.color_map(rgb, grid_size(maps.default_long_side(w, h, 256), w, h))
        lmap = maps.label_map(ids, grid_size(maps.default_long_side(w, h, 1024), w, h))
        for version in (1, 2):
            data = colors.encode(cmap, 8, version=version, labels=lmap)
            back = colors.decode(data, cmap.shape[1], cmap.shape[0], 8, version=version, labels=lmap)
            sizes[version] += len(data)
            errors[version] += float(np.mean((back.astype(float) - cmap) ** 2))
    assert sizes[2] < 0.97 * sizes[1], sizes
    assert errors[2] <= errors[1] * 1.02, errors


@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_wavelet_is_exactly_invertible(rows, cols, seed):
    plane = np.random.default_rng(seed).integers(-300, 300, size=(rows, cols))
    low, details = colors._analyse(plane)
    shapes = colors._band_shapes(rows, cols)
    assert low.shape == shapes[-1][0]
    assert [tuple(b.shape for b in level) for level in details] == [s[1:] for s in shapes]
    for level in reversed(details):
        low = colors._synthesise_level(low, *level)
    np.testing.assert_array_equal(low, plane)


def test_finest_quality_is_near_lossless():
    rgb = np.random.default_rng(0).integers(0, 256, size=(9, 13, 3), dtype=np.uint8)
    q = colors.QUALITY_LEVELS - 1
    back = colors.decode(colors.encode(rgb, q), 13, 9, q)
    err = back.astype(int) - rgb.astype(int)
    assert np.abs(err).max() <= 4 and np.mean(err**2) < 2.0


def test_color_size_grows_with_quality():
    # Rate control (codec.py) searches the quality ladder assuming bytes grow with quality.
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:14, 0:18]
    smooth = np.stack([120 + 60 * np.sin(xx / 3), 100 + 4 * yy, 90 + 50 * np.cos(yy / 4)], axis=-1)
    rgb = np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)
    sizes = [len(colors.encode(rgb, q)) for q in range(colors.QUALITY_LEVELS)]
    assert sizes == sorted(sizes), sizes
    errors = [np.mean((colors.decode(colors.encode(rgb, q), 18, 14, q).astype(float) - rgb) ** 2)
              for q in range(colors.QUALITY_LEVELS)]
    assert errors[-1] < errors[colors.DEFAULT_QUALITY] < errors[0]


def test_color_decode_known_vector():
    # Hand-derived: a 1x1 map whose quantised planes are all zero decodes to mid-grey (0, 0, 0)
    # clipped: Y = 0, Co = 0, Cg = 0 -> black. Coding three zero residuals with fresh contexts.
    rgb = np.zeros((1, 1, 3), dtype=np.uint8)
    data = colors.encode(rgb, 0)
    np.testing.assert_array_equal(colors.decode(data, 1, 1, 0), rgb)


def test_color_quality_out_of_range():
    with pytest.raises(BitstreamError):
        colors.decode(b"", 4, 4, colors.QUALITY_LEVELS)
    with pytest.raises(BitstreamError):
        colors.encode(np.zeros((2, 2, 3), np.uint8), -1)


def test_color_garbage_terminates():
    rng = random.Random(11)
    rgb = np.random.default_rng(5).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    data = colors.encode(rgb, colors.DEFAULT_QUALITY)
    payloads = [data[:n] for n in range(0, len(data), 3)]
    payloads += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(40)]
    payloads += [b"\xfe" * 5000]
    worst = _decode_garbage(lambda d: colors.decode(d, 16, 16, colors.DEFAULT_QUALITY), payloads)
    assert worst < 5.0


def test_color_priors_match_the_spec():
    # The initial probabilities are normative: the table in spec §4.3 must be the code's.
    spec = (Path(__file__).resolve().parent.parent / "spec" / "sgc-coding.md").read_text()
    section = spec[spec.index("## 4. Colour-map bitstream"): spec.index("### 4.4 Levels")]
    rows = dict(re.findall(r"^\| `(\w+)` \| \d+ \| [^|]+ \| ([\d, ]+) \|$", section, re.M))
    mag = re.search(r"`MAG` k: ([\d,\s]+)\.", section).group(1)
    parse = lambda text: tuple(int(v) for v in text.replace("\n", " ").split(","))  # noqa: E731
    assert parse(rows["LOW_ZERO"]) == colors._PRIOR_LOW_ZERO
    assert parse(rows["LOW_MAG"]) == colors._PRIOR_LOW_MAG
    assert parse(rows["ZERO"]) == colors._PRIOR_ZERO
    assert parse(mag) == colors._PRIOR_MAG
    assert colors.PRIORS[1] == (colors._PRIOR_LOW_ZERO, colors._PRIOR_LOW_MAG, colors._PRIOR_ZERO,
                                colors._PRIOR_MAG)
    section = spec[spec.index("### 6.4 Detail bands"): spec.index("### 6.5")]
    rows = dict(re.findall(r"^\| `(\w+)` \| ([\d, ]+) \|$", section, re.M))
    mag = re.search(r"`MAG` k: ([\d,\s]+)\.", section).group(1)
    assert colors.PRIORS[2] == tuple(parse(t) for t in (rows["LOW_ZERO"], rows["LOW_MAG"], rows["ZERO"], mag))
