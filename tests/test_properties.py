"""Property-based round trips of the whole format (hypothesis)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgcformat import registry
from sgcformat.chunks import vocab_payload
from sgcformat.coding import colors, labels, stream
from sgcformat.container import (
    ASPECT_RATIOS,
    Chunk,
    ChunkType,
    EssentialMetadata,
    SgcFile,
    aspect_height,
    build,
    default_grids,
    grid_size,
    parse,
)
from sgcformat.errors import SgcFormatError

PAIRS = [(p.name, p.vocab or v) for p in registry.PROFILES.values() for v in registry.VOCABULARIES
         if p.vocab in (None, v)]


@st.composite
def sgc_files(draw) -> tuple[SgcFile, np.ndarray, np.ndarray]:
    """Files of every version; version 3 ones often with an aspect-coded height and default grids."""
    version = draw(st.sampled_from((1, 2, 3)))
    width, height = draw(st.integers(1, 3000)), draw(st.integers(1, 3000))
    if version == 3 and draw(st.booleans()):
        height = aspect_height(draw(st.integers(1, len(ASPECT_RATIOS))), width) or 1
    profile, vocab = draw(st.sampled_from(PAIRS))
    size = registry.vocabulary(vocab).size
    label_grid = draw(st.integers(1, min(24, max(width, height))))
    color_grid = draw(st.integers(1, min(12, max(width, height))))
    if version == 3 and draw(st.booleans()):
        label_grid, color_grid, _ = default_grids(width, height)
    lw, lh = grid_size(label_grid, width, height)
    cw, ch = grid_size(color_grid, width, height)
    classes = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=6, unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    label_map = np.asarray(classes)[rng.integers(0, len(classes), (lh, lw))]
    color_map = rng.integers(0, 256, (ch, cw, 3), dtype=np.uint8)
    quality = draw(st.integers(0, colors.QUALITY_LEVELS - 1))
    if version == 3 and (label_grid, color_grid) == default_grids(width, height)[:2] and draw(st.booleans()):
        quality = colors.DEFAULT_QUALITY
    chunk_types = draw(st.lists(st.integers(0x03, 0x7F).filter(lambda t: t != ChunkType.META),
                                max_size=3, unique=True))  # unknown ancillary: any payload
    chunks = tuple(Chunk(t, draw(st.binary(max_size=40))) for t in sorted(chunk_types))
    def coded(vocab_key) -> dict:
        if version == 3:
            return dict(map_data=stream.encode(label_map, vocab_key, color_map, quality))
        return dict(label_data=labels.encode(label_map, vocab_key),
                    color_data=colors.encode(color_map, quality, version=version, labels=label_map))

    sgc = SgcFile(width, height, vocab, profile, label_grid, color_grid, quality, chunks=chunks,
                  version=version, **coded(vocab))
    if draw(st.booleans()):
        sgc = sgc.with_seed(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        name = draw(st.sampled_from(["a.jpg", "IMG_1.HEIC"]))
        sgc = sgc.with_metadata(EssentialMetadata(original_name=name))
    if draw(st.booleans()):  # the same map under a custom vocabulary of exactly its size
        names = [f"class {i}" for i in range(size)]
        sgc = dataclasses.replace(sgc, vocab="custom", profile="preview", **coded(size)).with_chunk(
            ChunkType.VOCAB, vocab_payload(names))
    return sgc, label_map, color_map


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sgc_files())
def test_build_parse_round_trip(example):
    sgc, label_map, _ = example
    data = build(sgc)
    again = parse(data)
    assert again == sgc
    assert build(again) == data
    assert np.array_equal(again.label_map, label_map)
    assert again.color_map.shape == (*sgc.color_size[::-1], 3)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_raise_format_error(data):
    try:
        sgc = parse(b"SGC\x01" + data)
        sgc.label_map, sgc.color_map  # noqa: B018
    except SgcFormatError:
        pass
