"""Container grammar: round trips, canonical form, and every kind of bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sgcformat import container
from sgcformat.container import Chunk, ChunkType, SgcFile, build, crc16, grid_size, parse
from sgcformat.errors import (
    BadSignatureError,
    ChecksumError,
    InvalidFieldError,
    LimitExceededError,
    SgcFormatError,
    TruncatedFileError,
    UnknownCriticalChunkError,
    UnsupportedVersionError,
)


def sample(**changes) -> SgcFile:
    fields = dict(width=512, height=512, vocab="coco-stuff-182", profile="ldm-semantic-512",
                  label_grid=32, color_grid=16, color_quality=0,
                  label_data=bytes(range(40)), color_data=bytes(range(90, 190)))
    fields.update(changes)
    return SgcFile(**fields)


def with_crc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")


def test_crc_check_value():
    assert crc16(b"123456789") == 0x29B1


def test_round_trip_and_overhead():
    sgc = sample()
    data = build(sgc)
    assert data.startswith(b"SGC\x01")
    assert parse(data) == sgc
    assert build(parse(data)) == data
    overhead = len(data) - len(sgc.label_data) - len(sgc.color_data)
    assert overhead <= 16


@pytest.mark.parametrize(
    ("size", "long_side", "grid"),
    [((512, 512), 32, (32, 32)), ((768, 512), 39, (39, 26)), ((512, 768), 20, (13, 20)),
     ((1000, 10), 16, (16, 1)), ((3, 2), 3, (3, 2))],
)
def test_grid_size_follows_aspect(size, long_side, grid):
    assert grid_size(long_side, *size) == grid


def test_seed_and_params_chunks_round_trip():
    sgc = sample().with_seed(123456789).with_params(container.DecodeParams(steps=20, strength=0.6))
    again = parse(build(sgc))
    assert again.seed == 123456789
    assert again.params == container.DecodeParams(steps=20, strength=0.6, guidance_scale=None)
    assert [c.type for c in again.chunks] == [ChunkType.SEED, ChunkType.PARAMS]
    assert again.with_seed(None).seed is None


def test_unknown_ancillary_chunk_preserved_when_seed_is_rewritten():
    unknown = Chunk(0x33, b"future data")
    sgc = sample(chunks=(unknown,))
    rewritten = parse(build(parse(build(sgc)).with_seed(7)))
    assert unknown in rewritten.chunks
    assert rewritten.seed == 7
    assert rewritten.label_data == sgc.label_data and rewritten.color_data == sgc.color_data


def test_unknown_critical_chunk_rejected():
    data = build(sample(chunks=(Chunk(0x90, b"x"),)))
    with pytest.raises(UnknownCriticalChunkError):
        parse(data)


def test_chunks_out_of_order_rejected():
    data = build(sample())  # 512x512: signature, version and header take 12 bytes
    body = data[:12] + bytes([0x10, 1, 0]) + bytes([0x01, 1, 5]) + data[12:-2]
    with pytest.raises(InvalidFieldError, match="ascending"):
        parse(with_crc(body))


def test_chunks_come_before_the_maps_and_end_with_a_zero_byte():
    data = build(sample().with_seed(5))
    assert data[12:15] == bytes([ChunkType.SEED, 1, 5])
    assert data[15] == container.END_OF_CHUNKS


def test_non_minimal_varint_rejected():
    data = bytearray(build(sample(width=5, height=5, label_grid=5, color_grid=5)))
    # width 5 as the two-byte varint 0x85 0x00 instead of 0x05
    body = bytes(data[:4]) + b"\x85\x00" + bytes(data[5:-2])
    with pytest.raises(InvalidFieldError, match="non-minimal"):
        parse(with_crc(body))


@pytest.mark.parametrize(
    ("data", "error"),
    [(b"", BadSignatureError), (b"S", TruncatedFileError), (b"SGC", TruncatedFileError),
     (b"PNG\x01rest", BadSignatureError), (b"SGC\x03" + bytes(20), UnsupportedVersionError),
     (b"\x89PNG\r\n\x1a\n", BadSignatureError)],
)
def test_signature_and_version(data, error):
    with pytest.raises(error):
        parse(data)


def test_every_truncation_raises_a_format_error():
    data = build(sample().with_seed(99))
    for n in range(len(data)):
        with pytest.raises((TruncatedFileError, ChecksumError, BadSignatureError)):
            parse(data[:n])


def test_every_single_bit_flip_is_detected():
    data = build(sample())
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(SgcFormatError):
            parse(bytes(flipped))


def test_trailing_bytes_rejected():
    data = build(sample())
    with pytest.raises(ChecksumError, match="appended"):
        parse(data + b"abc")


def test_huge_declared_length_is_truncation_not_allocation():
    header = build(sample())[:12]  # signature, version, header (512x512)
    body = header + b"\x00\xff\xff\xff\x7f"  # no chunks, label length 2**28 - 1
    with pytest.raises(TruncatedFileError):
        parse(with_crc(body))


def test_file_size_limit(tmp_path):
    with pytest.raises(LimitExceededError):
        parse(b"SGC\x01" + bytes(container.MAX_FILE_BYTES))


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"label_grid": 0}, "label_grid"), ({"color_grid": 200, "width": 100, "height": 100}, "color_grid"),
     ({"profile": "sd15-controlnet-seg"}, "profile")],
)
def test_field_semantics(changes, message):
    with pytest.raises(InvalidFieldError, match=message):
        parse(build(sample(**changes)))


def test_unknown_vocabulary_id_rejected():
    data = bytearray(build(sample()))
    data[8] = 0xE0 | (data[8] & 0x0F)  # vocab id 14
    with pytest.raises(InvalidFieldError, match="vocabulary"):
        parse(with_crc(bytes(data[:-2])))


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.sgc"
    container.write(target, sample())
    before = target.read_bytes()

    def fail(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        container.write(target, sample().with_seed(1))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.sgc"]


def test_import_does_not_load_heavy_libraries():
    code = ("import sys, sgcformat, sgcformat.container; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'PyQt6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
