"""Regenerate the conformance vectors of spec/sgc.md §11.

    python spec/vectors/make_vectors.py

Valid vectors come with the parsed header fields, the chunk list and the decoded maps; invalid
ones with the error class a reader must raise. Inputs are synthetic (seeded), so the vectors
are reproducible and carry no third-party image content.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from sgcformat import codec, container
from sgcformat.container import ChunkType, DecodeParams, SgcFile, build, crc16, parse

HERE = Path(__file__).resolve().parent


def scene(width: int, height: int, classes: list[int], seed: int) -> tuple[Image.Image, np.ndarray]:
    """A smooth synthetic photo and a label map of blobs drawn from ``classes`` (PNG values)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    labels = np.full((height, width), classes[0], dtype=np.uint8)
    for value in classes[1:]:
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.4)
        labels[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = value
    base = rng.uniform(40, 220, size=(256, 3))
    rgb = base[labels] + 25 * np.sin(6 * xx)[..., None] + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)), labels


def encode_scene(width, height, vocab, classes, scene_seed, **options) -> SgcFile:
    image, labels = scene(width, height, classes, scene_seed)
    return codec.encode(image, labels=labels, vocab=vocab, **options)


def valid_vectors() -> dict[str, SgcFile]:
    coco = encode_scene(512, 512, "coco-stuff-182", [156, 123, 0, 148, 2], 1)  # sky, grass, person...
    return {
        "coco-512-default": coco,
        "ade-portrait-seed-params": encode_scene(
            384, 512, "ade20k-150", [3, 1, 2, 5, 13], 2, seed=31337
        ).with_params(DecodeParams(steps=25, strength=0.65, guidance_scale=7.5)),
        "minimal-1x1": encode_scene(1, 1, "camvid-11", [4], 3),
        "wide-1000x10-preview": encode_scene(1000, 10, "loveda-7", [1, 3, 4], 4),
        "cityscapes-budget-128": encode_scene(640, 320, "cityscapes-34", [7, 8, 11, 21, 23, 26], 5,
                                              target_bytes=128),
        "unknown-ancillary-and-exif": coco.with_chunk(ChunkType.EXIF, b"Exif\x00\x00II*\x00")
        .with_chunk(0x40, b"a future ancillary chunk"),
    }


def recrc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")


def invalid_vectors(good: bytes) -> dict[str, tuple[bytes, str, str]]:
    """Invalid files derived from ``good``, a 512x512 file without chunks."""
    head, rest = good[:12], good[12:-2]  # signature, version, 8-byte header | end marker, maps
    body = good[:-2]
    sgc = parse(good)
    flipped = bytearray(good)
    flipped[20] ^= 0x04
    out = {
        "empty": (b"", "BadSignatureError", "zero-length file"),
        "bad-signature": (b"PNG" + good[3:], "BadSignatureError", "wrong magic"),
        "bad-version": (b"SGC\x02" + good[4:], "UnsupportedVersionError", "major version 2"),
        "truncated-signature": (good[:2], "TruncatedFileError", "ends inside the signature"),
        "truncated-header": (good[:7], "TruncatedFileError", "ends inside the header"),
        "truncated-labels": (good[:20], "TruncatedFileError", "ends inside the label bitstream"),
        "truncated-colours": (good[:-5], "ChecksumError", "ends inside the colour bitstream"),
        "truncated-crc": (good[:-1], "ChecksumError", "last byte missing"),
        "crc-mismatch": (bytes(flipped), "ChecksumError", "one bit flipped in the label bitstream"),
        "trailing-bytes": (good + b"\x00\x01", "ChecksumError", "two bytes appended after the CRC"),
        "missing-end-of-chunks": (recrc(head + b"\x01\x01\x05"), "TruncatedFileError",
                                  "a SEED chunk, then the file ends"),
        "oversize-label-length": (recrc(head + b"\x00\xff\xff\xff\x7f"), "TruncatedFileError",
                                  "label length 2**28-1 declared in a small file"),
        "varint-too-long": (recrc(b"SGC\x01\x80\x80\x80\x01"), "InvalidFieldError",
                            "width varint longer than 3 bytes"),
        "non-minimal-varint": (recrc(b"SGC\x01\x80\x84\x00" + good[6:-2]), "InvalidFieldError",
                               "width 512 encoded in three bytes (0x80 0x84 0x00)"),
        "profile-vocab-mismatch": (recrc(body[:8] + b"\x11" + body[9:]), "InvalidFieldError",
                                   "vocabulary ade20k-150 (1) with profile ldm-semantic-512 (1)"),
        "unknown-vocabulary": (recrc(body[:8] + b"\xe0" + body[9:]), "InvalidFieldError",
                               "vocabulary id 14"),
        "unknown-profile": (recrc(body[:8] + b"\x0d" + body[9:]), "InvalidFieldError", "profile id 13"),
        "unknown-critical-chunk": (recrc(head + b"\x81\x00" + rest), "UnknownCriticalChunkError",
                                   "chunk type 0x81, empty"),
        "chunks-out-of-order": (recrc(head + b"\x10\x01x\x01\x01\x05" + rest), "InvalidFieldError",
                                "EXIF before SEED"),
        "duplicate-chunk": (recrc(head + b"\x01\x01\x05\x01\x01\x06" + rest), "InvalidFieldError",
                            "two SEED chunks"),
        "seed-payload-too-long": (recrc(head + b"\x01\x02\x05\x00" + rest), "InvalidFieldError",
                                  "SEED payload with a trailing byte"),
        "seed-out-of-range": (recrc(head + b"\x01\x05\x80\x80\x80\x80\x10" + rest), "InvalidFieldError",
                              "SEED 2**32"),
    }
    mutations = {
        "zero-width": (dict(width=0), "InvalidFieldError", "width 0"),
        "grid-larger-than-image": (dict(width=8, height=8, label_grid=9), "InvalidFieldError",
                                   "label grid long side 9 on an 8x8 image"),
        "color-quality-out-of-range": (dict(color_quality=255), "InvalidFieldError",
                                       "colour quality beyond the quantiser table"),
    }
    for name, (changes, error, why) in mutations.items():
        out[name] = (_raw_build(sgc, **changes), error, why)
    return out


def _raw_build(sgc: SgcFile, **changes) -> bytes:
    """Build bypassing the writer's checks, to produce files with out-of-range fields."""
    h = dict(width=sgc.width, height=sgc.height, models=0x01,
             label_grid=sgc.label_grid, color_grid=sgc.color_grid, color_quality=sgc.color_quality)
    h.update(changes)
    body = container.Body.build(dict(header=h, chunks=[dict(type=0, data=None)],
                                     label_data=sgc.label_data, color_data=sgc.color_data))
    return recrc(b"SGC\x01" + body)


def bitstream_vectors() -> dict[str, tuple[bytes, str, str]]:
    """A valid container whose label bitstream declares more classes than its vocabulary has."""
    wide = encode_scene(64, 64, "coco-stuff-182", list(range(100, 160, 4)), 6)
    as_camvid = SgcFile(64, 64, "camvid-11", "preview", wide.label_grid, wide.color_grid,
                        wide.color_quality, wide.label_data, wide.color_data)
    return {"class-outside-vocabulary": (build(as_camvid), "BitstreamError",
                                         "15 coco-stuff classes stored under camvid-11")}


def describe(sgc: SgcFile, data: bytes) -> dict:
    return {
        "bytes": len(data), "width": sgc.width, "height": sgc.height, "vocab": sgc.vocab,
        "profile": sgc.profile, "label_grid": sgc.label_grid, "color_grid": sgc.color_grid,
        "label_size": list(sgc.label_size), "color_size": list(sgc.color_size),
        "color_quality": sgc.color_quality, "seed": sgc.seed,
        "params": {"steps": sgc.params.steps, "strength": sgc.params.strength,
                   "guidance_scale": sgc.params.guidance_scale},
        "chunks": [{"type": c.type, "data_hex": c.data.hex()} for c in sgc.chunks],
        "label_data_hex": sgc.label_data.hex(), "color_data_hex": sgc.color_data.hex(),
        "label_map": sgc.label_map.tolist(), "color_map": sgc.color_map.tolist(),
    }


def main() -> None:
    for sub in ("valid", "invalid"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    valid = valid_vectors()
    for name, sgc in valid.items():
        data = build(sgc)
        (HERE / "valid" / f"{name}.sgc").write_bytes(data)
        (HERE / "valid" / f"{name}.json").write_text(json.dumps(describe(parse(data), data)) + "\n")
    invalid = invalid_vectors(build(valid["coco-512-default"]))
    invalid.update(bitstream_vectors())
    for name, (data, error, why) in invalid.items():
        (HERE / "invalid" / f"{name}.sgc").write_bytes(data)
        (HERE / "invalid" / f"{name}.json").write_text(json.dumps({"error": error, "why": why}) + "\n")
    print(f"{len(valid)} valid and {len(invalid)} invalid vectors written to {HERE}")


if __name__ == "__main__":
    main()
