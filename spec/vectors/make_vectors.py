"""Regenerate the conformance vectors of spec/sgc.md §11 (layout: spec/vectors/schema.json).

    SGC_PURE_PYTHON=1 python spec/vectors/make_vectors.py

Valid vectors come with the parsed header fields, the chunk list and the decoded maps; invalid
ones with the error class a reader must raise and the rule that makes them invalid. Several
invalid bitstreams are written by the reference encoder with one decision forced (a patched
encoder function), since no honest encoder produces them. Inputs are synthetic (seeded), so
the vectors are reproducible and carry no third-party image content.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import shutil
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from sgcformat import chunks, codec, registry
from sgcformat.chunks import EssentialMetadata
from sgcformat.coding import colors, labels, rangecoder, stream
from sgcformat.container import (
    ASPECT_RATIOS,
    LAYOUT_CHUNKS,
    LAYOUT_GRIDS,
    MAX_FILE_BYTES,
    Chunk,
    ChunkType,
    DecodeParams,
    SgcFile,
    aspect_height,
    build,
    crc16,
    default_grids,
    grid_size,
    parse,
)
from sgcformat.errors import BitstreamError

HERE = Path(__file__).resolve().parent
POTSDAM = ("impervious surfaces", "building", "low vegetation", "tree", "car", "clutter")
#: A 40-class list like a company segmenter's (synthetic names, no dataset's).
FORTY = tuple(f"{kind} {part}" for kind in ("wall", "floor", "door", "window", "shelf", "desk",
                                           "chair", "lamp", "screen", "plant")
              for part in ("left", "right", "front", "back"))


def scene(width: int, height: int, classes: list[int], seed: int) -> tuple[Image.Image, np.ndarray]:
    """A smooth synthetic photo and a label map of blobs drawn from ``classes`` (PNG values)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    label_png = np.full((height, width), classes[0], dtype=np.uint8)
    for value in classes[1:]:
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.4)
        label_png[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = value
    base = rng.uniform(40, 220, size=(256, 3))
    rgb = base[label_png] + 25 * np.sin(6 * xx)[..., None] + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)), label_png


def encode_scene(width, height, vocab, classes, scene_seed, version: int = 1, **options) -> SgcFile:
    """The reference encoder's file of a synthetic scene, in file format ``version``."""
    image, label_png = scene(width, height, classes, scene_seed)
    return codec.encode(image, labels=label_png, vocab=vocab, version=version, **options)


def from_maps(label_map: np.ndarray, vocab: str, label_grid: int, width: int, height: int,
              quality: int = 8, label_data: bytes | None = None, **fields) -> SgcFile:
    """A file around a given label map (coded unless ``label_data``) and a smooth colour map."""
    cw, ch = grid_size(8, width, height)
    yy, xx = np.mgrid[0:ch, 0:cw]
    rgb = np.stack([40 + 20 * xx, 60 + 15 * yy, 200 - 10 * (xx + yy)], axis=-1).clip(0, 255)
    data = labels.encode(label_map, vocab) if label_data is None else label_data
    return SgcFile(width, height, vocab, "preview", label_grid, 8, quality, data,
                   colors.encode(rgb.astype(np.uint8), quality), **fields)


def from_maps_v3(label_map: np.ndarray, vocab: str, width: int, height: int,
                 orientation: tuple[bool, bool] | None = None, **fields) -> SgcFile:
    """A version 3 file around a given label map and a smooth colour map at the default grids
    (the label grid follows the map), the label map coded in ``orientation`` (mirror,
    transpose) when given, else the encoder's choice."""
    label_grid = max(label_map.shape)
    _, color_grid, quality = default_grids(width, height)
    cw, ch = grid_size(color_grid, width, height)
    yy, xx = np.mgrid[0:ch, 0:cw]
    rgb = np.stack([40 + 20 * xx, 60 + 15 * yy, 200 - 10 * (xx + yy)], axis=-1).clip(0, 255).astype(np.uint8)
    choice = (lambda _: lambda version, several: [orientation]) if orientation else (lambda f: f)
    with forced(labels, "_orientations", choice):
        data = stream.encode(label_map, vocab, rgb, quality)
    return SgcFile(width, height, vocab, "preview", label_grid, color_grid, quality, version=3,
                   map_data=data, **fields)


def aspect_vectors() -> dict[str, tuple[SgcFile, str]]:
    """One small version 3 file per aspect code, at a width where the rounding matters: the
    exact height has the largest fraction below 1 that the code can give (halves round up)."""
    out = {}
    for code, (w, h) in enumerate(ASPECT_RATIOS, 1):
        width = max(range(40, 80), key=lambda x: ((2 * x * h) % (2 * w), -x))
        height = aspect_height(code, width)
        grid = noise_map(*grid_size(8, width, height), 3, code, block=2)
        out[f"v3-aspect-{code:02d}-{w}x{h}"] = (
            from_maps_v3(grid, "camvid-11", width, height),
            f"aspect code {code} ({w}:{h}): {width}x{height}, the height not stored (§4.4)")
    return out


def noise_map(cols: int, rows: int, k: int, seed: int, block: int = 1) -> np.ndarray:
    """Random classes 0..k-1 in ``block``-cell squares: every context and rank path gets used."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, k, (-(-rows // block), -(-cols // block)))
    return np.kron(coarse, np.ones((block, block), dtype=np.int64))[:rows, :cols]


@contextlib.contextmanager
def forced(owner, name: str, replacement):
    """Temporarily replace ``owner.name`` (used to write bitstreams no honest encoder writes)."""
    original = getattr(owner, name)
    setattr(owner, name, replacement(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def unused_class_payload(label_map: np.ndarray, present: list[int], size: int) -> bytes:
    """A label bitstream whose class set lists ``present`` although the map uses fewer."""
    enc = rangecoder.Encoder()
    labels._encode_class_set(enc, present, size, None)
    rangecoder.encode_bypass(enc, 1, 0)
    rows, cols = label_map.shape
    grid, stride = labels._padded_grid(rows, cols)
    local = np.searchsorted(present, label_map).tolist()
    for y in range(rows):
        start = labels._cell_index(y, 0, stride)
        grid[start:start + cols] = local[y]
    labels._code_cells(len(present), rows, cols, grid, enc)
    return enc.finish()


def empty_class_set_payload() -> bytes:
    """ade20k-150's presence bits all 0: no class present."""
    enc = rangecoder.Encoder()
    for p1 in labels.PRESENCE["ade20k-150"]:
        enc.fixed(2048 - p1, 0)
    enc.fixed(1024, 1)  # something after, so the payload is not empty
    return enc.finish()


def rank_outside_payload() -> tuple[bytes, int]:
    """A noise map whose first escape bit-tree is written as all ones (a rank ≥ rest)."""
    def all_ones(original):
        calls = []

        def tree(enc, probs, base, nbits, value):
            calls.append(nbits)
            original(enc, probs, base, nbits, (1 << nbits) - 1 if len(calls) == 1 else value)
        return tree

    for seed in range(50):
        grid = noise_map(12, 12, 11, seed)
        with forced(labels, "encode_tree", all_ones):
            payload = labels.encode(grid, "cityscapes-34")
        try:
            labels.decode(payload, 12, 12, "cityscapes-34")
        except BitstreamError:
            return payload, seed
    raise RuntimeError("no seed gives a rank outside the classes")


def level_over_limit_payload(quality: int) -> bytes:
    """A 2x2 colour map whose first LL2 residual is forced far past the quantiser's range."""
    def huge(original):
        calls = []

        def choose(self, *args):
            calls.append(1)
            return 3000 if len(calls) == 1 else original(self, *args)
        return choose

    with forced(colors._BandCoder, "_choose", huge):
        payload = colors.encode(np.full((2, 2, 3), 128, np.uint8), quality)
    with contextlib.suppress(BitstreamError):
        colors.decode(payload, 2, 2, quality)
        raise RuntimeError("the forced level decodes")
    return payload


def valid_vectors() -> dict[str, tuple[SgcFile, str]]:
    coco = encode_scene(512, 512, "coco-stuff-182", [156, 123, 0, 148, 2], 1)  # sky, grass, person...
    tiff = b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"  # a TIFF header and an empty IFD
    two = encode_scene(256, 256, "camvid-11", [4, 8], 7, profile="preview")
    custom6 = registry.CustomVocabulary.from_names(POTSDAM)
    custom40 = registry.CustomVocabulary.from_names(FORTY)
    meta = EssentialMetadata(
        captured=dt.datetime(2024, 7, 14, 18, 30, 5), utc_offset=dt.timedelta(hours=2),
        gps=(48.8583701, 2.2944813), altitude=35.4, make="ACME", model="Cam 2000 Pro",
        original_name="IMG_2041.JPG")
    present_map = noise_map(16, 16, 2, 3, block=4) * 5  # classes 0 and 5 only
    return {
        "coco-512-default": (coco, "512x512 photo, coco-stuff-182, default settings"),
        "ade-portrait-seed-params": (encode_scene(
            384, 512, "ade20k-150", [3, 1, 2, 5, 13], 2, seed=31337
        ).with_params(DecodeParams(steps=25, strength=0.65, guidance_scale=7.5)),
            "portrait grids, SEED and PARAMS chunks, ade20k presence prior"),
        "minimal-1x1": (encode_scene(1, 1, "camvid-11", [4], 3), "1x1 image, one class"),
        "wide-1000x10-preview": (encode_scene(1000, 10, "loveda-7", [1, 3, 4], 4),
                                 "extreme aspect ratio: 255x3 grids"),
        "cityscapes-budget-128": (encode_scene(640, 320, "cityscapes-34", [7, 8, 11, 21, 23, 26], 5,
                                               target_bytes=128), "byte budget of 128"),
        "unknown-ancillary-and-exif": (
            coco.with_chunk(ChunkType.EXIF, tiff).with_chunk(0x40, b"a future ancillary chunk"),
            "EXIF (raw TIFF, §5) and an unknown ancillary chunk a reader must skip"),
        "labels-two-classes": (two, "k = 2: the second candidate is implied (coding §3.3 step 4)"),
        "labels-noise-12-classes": (
            from_maps(noise_map(48, 48, 12, 11), "cityscapes-34", 48, 480, 480),
            "random map: untrained MATCH contexts (p = 512), bit-trees of several depths sharing "
            "one TREE array (coding §3.2)"),
        "labels-noise-blocks-ade": (
            from_maps(noise_map(40, 30, 9, 12, block=2), "ade20k-150", 40, 400, 300),
            "2x2 blocks of 9 ade20k classes: shapes and ranks the photos rarely reach"),
        "labels-unused-class-in-set": (
            from_maps(present_map, "camvid-11", 16, 64, 64,
                      label_data=unused_class_payload(present_map, [0, 3, 5], 11)),
            "class set {0, 3, 5} but no cell is 3: readers accept it (coding §3.1)"),
        "colors-quality-18": (from_maps(noise_map(8, 8, 3, 1), "camvid-11", 8, 64, 64, quality=18),
                              "finest colour quality (Δ = 1)"),
        "custom-potsdam-6": (encode_scene(300, 300, custom6, [0, 1, 2, 3, 4, 5], 8),
                             "custom vocabulary (id 15), 6 names stored plain (§5.3)"),
        "custom-40-deflated": (encode_scene(320, 240, custom40, [0, 7, 13, 22, 39], 9),
                               "custom vocabulary, 40 names stored deflated (§5.3)"),
        "meta-all-fields": (coco.with_metadata(meta), "META with every field (§5.2)"),
        "v2-coco-512-default": (encode_scene(512, 512, "coco-stuff-182", [156, 123, 0, 148, 2], 1,
                                             version=2), "version 2: colours coded given the labels"),
        "v2-ade-portrait-seed": (encode_scene(384, 512, "ade20k-150", [3, 1, 2, 5, 13], 2, version=2,
                                              seed=7), "version 2, portrait, presence prior"),
        "v2-minimal-1x1": (encode_scene(1, 1, "camvid-11", [4], 3, version=2), "version 2, 1x1"),
        "v2-wide-1000x10": (encode_scene(1000, 10, "loveda-7", [1, 3, 4], 4, version=2),
                            "version 2, 255x3 label grid"),
        "v2-custom-potsdam-6": (encode_scene(300, 300, custom6, [0, 1, 2, 3, 4, 5], 8, version=2),
                                "version 2 with a custom vocabulary"),
        "meta-capture-time-only": (
            coco.with_metadata(EssentialMetadata(captured=dt.datetime(1999, 12, 31, 23, 59, 59))),
            "META with a capture time alone"),
        "v3-coco-512-default": (encode_scene(512, 512, "coco-stuff-182", [156, 123, 0, 148, 2], 1,
                                             version=3),
                                "version 3: aspect code 1, default grids, no chunk list, one stream"),
        "v3-ade-portrait-seed-params": (encode_scene(
            384, 512, "ade20k-150", [3, 1, 2, 5, 13], 2, version=3, seed=31337
        ).with_params(DecodeParams(steps=25, strength=0.65, guidance_scale=7.5)),
            "version 3, 3:4, a chunk list (SEED, PARAMS), presence prior"),
        "v3-stored-height": (encode_scene(600, 337, "cityscapes-34", [7, 8, 11, 21, 23], 10, version=3),
                             "version 3, 600x337: no aspect code gives 337, the height is stored"),
        "v3-stored-grids": (encode_scene(640, 320, "cityscapes-34", [7, 8, 11, 21, 23, 26], 5, version=3,
                                         target_bytes=96),
                            "version 3, byte budget: grids and quality stored"),
        "v3-minimal-1x1": (encode_scene(1, 1, "camvid-11", [4], 3, version=3), "version 3, 1x1, one class"),
        "v3-wide-1000x10": (encode_scene(1000, 10, "loveda-7", [1, 3, 4], 4, version=3),
                            "version 3, 255x3 default label grid, height stored"),
        "v3-custom-potsdam-6": (encode_scene(300, 300, custom6, [0, 1, 2, 3, 4, 5], 8, version=3),
                                "version 3 with a custom vocabulary (VOCAB in the chunk list)"),
        "v3-labels-transposed": (from_maps_v3(noise_map(20, 12, 5, 21, block=2), "camvid-11", 400, 240,
                                              orientation=(False, True)),
                                 "label map coded transposed: a 12x20 grid of cells (coding §3.3)"),
        "v3-labels-transposed-mirrored": (
            from_maps_v3(noise_map(20, 12, 5, 22, block=2), "camvid-11", 400, 240, orientation=(True, True)),
            "transposed, then mirrored: the decoder mirrors back first, then transposes"),
        "v3-labels-mirrored": (from_maps_v3(noise_map(20, 12, 5, 23, block=2), "camvid-11", 400, 240,
                                            orientation=(True, False)), "mirrored, not transposed"),
        **aspect_vectors(),
    }


def recrc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")


def with_label_data(good: bytes, label_data: bytes) -> bytes:
    """``good`` (no chunks, 12-byte head) with its label bitstream replaced."""
    sgc = parse(good)
    return build(SgcFile(sgc.width, sgc.height, sgc.vocab, sgc.profile, sgc.label_grid,
                         sgc.color_grid, sgc.color_quality, label_data, sgc.color_data))


def invalid_vectors(good: bytes) -> dict[str, tuple[bytes, str, str]]:
    """Invalid files derived from ``good``, a 512x512 file without chunks."""
    head, rest = good[:12], good[12:-2]  # signature, version, 8-byte header | end marker, maps
    body = good[:-2]
    sgc = parse(good)
    flipped = bytearray(good)
    flipped[20] ^= 0x04

    def chunk(type_: int, payload: bytes) -> bytes:
        return recrc(head + bytes([type_]) + chunks.varint_bytes(len(payload), 4) + payload + rest)

    def param(payload: bytes, why: str) -> tuple[bytes, str, str]:
        return chunk(ChunkType.PARAMS, payload), "InvalidFieldError", why

    def meta(payload: bytes, why: str) -> tuple[bytes, str, str]:
        return chunk(ChunkType.META, payload), "InvalidFieldError", why

    date = chunks.varint_bytes(10**9, 5)
    out = {
        "empty": (b"", "BadSignatureError", "zero-length file (§7 step 2)"),
        "bad-signature": (b"PNG" + good[3:], "BadSignatureError", "wrong magic"),
        "bad-version": (b"SGC\x04" + good[4:], "UnsupportedVersionError", "version 4 (§3)"),
        "truncated-signature": (good[:2], "TruncatedFileError", "ends inside the signature"),
        "signature-and-version-only": (good[:4], "TruncatedFileError",
                                       "4 bytes: no room for a CRC (§7 step 4)"),
        "five-byte-file": (good[:5], "TruncatedFileError", "5 bytes: no room for a CRC"),
        "truncated-header": (good[:7], "TruncatedFileError", "ends inside the header"),
        "truncated-in-width-varint": (b"SGC\x01\x80\x80" + b"\x00\x00", "TruncatedFileError",
                                      "the data before the CRC ends after 2 varint bytes of 3"),
        "truncated-in-header-bytes": (good[:10], "TruncatedFileError",
                                      "width and height complete, the four header bytes cut"),
        "truncated-labels": (good[:20], "TruncatedFileError", "ends inside the label bitstream"),
        "truncated-colours": (good[:-5], "ChecksumError", "ends inside the colour bitstream"),
        "truncated-crc": (good[:-1], "ChecksumError", "last byte missing"),
        "crc-mismatch": (bytes(flipped), "ChecksumError", "one bit flipped in the label bitstream"),
        "trailing-bytes": (good + b"\x00\x01", "ChecksumError", "two bytes appended after the CRC"),
        "missing-end-of-chunks": (recrc(head + b"\x01\x01\x05"), "TruncatedFileError",
                                  "a SEED chunk, then the file ends"),
        "missing-end-of-chunks-crc-01": (_crc_starting_01(head), "TruncatedFileError",
                                         "a SEED chunk, then the CRC, whose first byte is 0x01"),
        "crc-mismatch-in-ancillary-chunk": (
            head + b"\x40\x03abc" + rest + crc16(head + b"\x40\x03abd" + rest).to_bytes(2, "little"),
            "ChecksumError", "an unknown ancillary chunk's byte changed: only the CRC sees it"),
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
        "unknown-critical-chunk": (recrc(head + b"\x82\x00" + rest), "UnknownCriticalChunkError",
                                   "chunk type 0x82, empty"),
        "chunks-out-of-order": (recrc(head + b"\x10\x01x\x01\x01\x05" + rest), "InvalidFieldError",
                                "EXIF before SEED"),
        "chunks-out-of-order-bad-crc": (head + b"\x10\x01x\x01\x01\x05" + rest + b"\x00\x00",
                                        "InvalidFieldError",
                                        "chunk order is structure (§7 step 5), before the CRC"),
        "unknown-critical-then-out-of-order": (
            recrc(head + b"\x82\x00\x10\x00" + rest), "InvalidFieldError",
            "the order violation (step 5) wins over the unknown critical chunk (step 7)"),
        "bad-field-and-bad-crc": (b"SGC\x01\x00" + good[6:-2] + b"\x00\x00", "ChecksumError",
                                  "width 0 and a wrong CRC: the CRC (step 6) comes first"),
        "duplicate-chunk": (recrc(head + b"\x01\x01\x05\x01\x01\x06" + rest), "InvalidFieldError",
                            "two SEED chunks"),
        "seed-payload-too-long": (recrc(head + b"\x01\x02\x05\x00" + rest), "InvalidFieldError",
                                  "SEED payload with a trailing byte"),
        "seed-out-of-range": (recrc(head + b"\x01\x05\x80\x80\x80\x80\x10" + rest), "InvalidFieldError",
                              "SEED 2**32"),
        "params-strength-101": param(b"\x00\x65\x00", "PARAMS strength 101 %"),
        "params-steps-1001": param(b"\xe9\x07\x00\x00", "PARAMS steps 1001"),
        "params-all-default": param(b"\x00\x00\x00", "PARAMS with every field 0: omit it instead"),
        "params-short": param(b"\x14\x32", "PARAMS without its guidance byte"),
        "meta-reserved-bit": meta(b"\x81" + date, "META flag bit 7 set"),
        "meta-no-fields": meta(b"\x00", "META with no field"),
        "meta-offset-without-time": meta(b"\x02\x08", "UTC offset without a capture time"),
        "meta-offset-out-of-range": meta(b"\x03" + date + b"\x39", "UTC offset 57 quarter hours"),
        "meta-latitude-out-of-range": meta(b"\x04" + (900_000_001).to_bytes(4, "little")
                                           + bytes(4), "latitude 90.0000001°"),
        "meta-trailing-byte": meta(b"\x01" + date + b"\x00", "a byte after the last field"),
        "meta-cut-field": meta(b"\x04" + bytes(5), "GPS field cut short"),
        "meta-empty-make": meta(b"\x10\x00", "camera make of length 0"),
        "meta-nul-in-model": meta(b"\x20\x03a\x00b", "NUL inside the camera model"),
        "meta-bad-utf8": meta(b"\x40\x02\xc3\x28", "original name is not UTF-8"),
        "vocab-chunk-with-registry-vocabulary": (
            chunk(ChunkType.VOCAB, chunks.vocab_payload(POTSDAM)), "InvalidFieldError",
            "a VOCAB chunk in a coco-stuff-182 file"),
        "file-over-1-mib": (_oversize(sgc), "LimitExceededError",
                            "1 MiB + 1 byte, otherwise valid (an unknown ancillary chunk of zeros)"),
        "labels-trailing-zero": (with_label_data(good, sgc.label_data + b"\x00"), "BitstreamError",
                                 "label bitstream ends with 0x00 (coding §2.6 b)"),
        "labels-trailing-bytes": (with_label_data(good, sgc.label_data + b"\x5a" * 40),
                                  "BitstreamError", "40 bytes nobody reads (coding §2.6 a)"),
        "labels-initial-code": (with_label_data(good, b"\xff\xff\xff\xff"), "BitstreamError",
                                "the first code is 0xFFFFFFFF (coding §2.2)"),
    }
    mutations = {
        "zero-width": (dict(width=0), "InvalidFieldError", "width 0"),
        "zero-height": (dict(height=0), "InvalidFieldError", "height 0"),
        "grid-larger-than-image": (dict(width=8, height=8, label_grid=9), "InvalidFieldError",
                                   "label grid long side 9 on an 8x8 image"),
        "color-grid-zero": (dict(color_grid=0), "InvalidFieldError", "colour grid long side 0"),
        "color-quality-out-of-range": (dict(color_quality=255), "InvalidFieldError",
                                       "colour quality beyond the quantiser table"),
        "custom-without-vocab-chunk": (dict(models=0xF0), "InvalidFieldError",
                                       "vocabulary 15 (custom) without a VOCAB chunk"),
    }
    for name, (changes, error, why) in mutations.items():
        out[name] = (_raw_build(sgc, **changes), error, why)
    names = "\n".join(POTSDAM).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(names) + packer.flush()
    vocab_payloads = {
        "vocab-count-mismatch": (b"\x00\x05" + names, "6 names, count 5"),
        "vocab-count-zero": (b"\x00\x00", "no class"),
        "vocab-reserved-flag": (b"\x02\x06" + names, "VOCAB flag bit 1 set"),
        "vocab-duplicate-names": (b"\x00\x02tree\ntree", "the same name twice"),
        "vocab-empty-name": (b"\x00\x03a\n\nb", "an empty name"),
        "vocab-control-character": (b"\x00\x02a\tb\nc", "a TAB inside a name"),
        "vocab-padded-name": (b"\x00\x02 tree\ncar", "a name with a leading space"),
        "vocab-name-too-long": (b"\x00\x02" + b"x" * 256 + b"\ncar", "a name of 256 bytes"),
        "vocab-bad-utf8": (b"\x00\x02\xc3\x28\ncar", "a name that is not UTF-8"),
        "vocab-deflate-trailing-bytes": (b"\x01\x06" + packed + b"\x00", "a byte after the deflate stream"),
        "vocab-deflate-cut": (b"\x01\x06" + packed[:-3], "the deflate stream cut short"),
        "vocab-4097-classes": (_many_names(4097), "4097 distinct names: more than 4096"),
    }
    for name, (payload, why) in vocab_payloads.items():
        out[name] = (_raw_build(sgc, [dict(type=ChunkType.VOCAB, data=payload)], models=0xF0),
                     "InvalidFieldError", why)
    return out


def v3_invalid_vectors(good: bytes, chunked: bytes) -> dict[str, tuple[bytes, str, str]]:
    """Invalid version 3 files derived from ``good`` (512x512: aspect code 1, default grids, no
    chunks) and ``chunked`` (384x512 with SEED and PARAMS)."""
    layout, models, stream_bytes = good[4], good[7], good[8:-2]  # width 512 is two varint bytes
    assert (layout, good[5:7]) == (1, b"\x80\x04")
    head = good[:4]

    def file(layout_byte: int, fields: bytes, maps: bytes = stream_bytes) -> bytes:
        return recrc(head + bytes([layout_byte]) + fields + maps)

    w = b"\x80\x04"
    lg, cg, q = default_grids(512, 512)
    return {
        "v3-layout-reserved-bit": (file(layout | 0x40, w + bytes([models])), "InvalidFieldError",
                                   "layout bit 6 set (§4.4)"),
        "v3-layout-reserved-bit-7": (file(layout | 0x80, w + bytes([models])), "InvalidFieldError",
                                     "layout bit 7 set"),
        "v3-height-stored-but-aspect": (file(0, w + w + bytes([models])), "InvalidFieldError",
                                        "height 512 stored although aspect code 1 gives it"),
        "v3-grids-stored-but-default": (
            file(layout | LAYOUT_GRIDS, w + bytes([models, lg, cg, q])), "InvalidFieldError",
            "the default grids and quality stored (§4.4: they must be left out)"),
        "v3-stored-grid-zero": (file(layout | LAYOUT_GRIDS, w + bytes([models, 0, cg, q])),
                                "InvalidFieldError", "a stored label grid of 0"),
        "v3-stored-quality-19": (file(layout | LAYOUT_GRIDS, w + bytes([models, lg, cg, 19])),
                                 "InvalidFieldError", "a stored colour quality of 19"),
        "v3-empty-chunk-list": (file(layout | LAYOUT_CHUNKS, w + bytes([models, 0])), "InvalidFieldError",
                                "the layout byte announces chunks, the list is empty (§7 step 5)"),
        "v3-missing-end-of-chunks": (recrc(head + bytes([layout | LAYOUT_CHUNKS]) + w
                                           + bytes([models]) + b"\x01\x01\x05"),
                                     "TruncatedFileError", "a SEED chunk, then the file ends"),
        "v3-aspect-height-out-of-range": (
            file(15, chunks.varint_bytes(40000, 3) + bytes([models])), "InvalidFieldError",
            "aspect code 15 (9:21) on a width of 40000 gives height 93333 > 65535"),
        "v3-no-layout-byte": (recrc(head), "TruncatedFileError", "nothing before the CRC but the version"),
        "v3-truncated-in-width": (recrc(head + bytes([layout]) + b"\x80"), "TruncatedFileError",
                                  "ends inside the width varint"),
        "v3-truncated-in-height": (recrc(head + b"\x00" + w + b"\x80"), "TruncatedFileError",
                                   "aspect code 0: ends inside the stored height"),
        "v3-truncated-before-models": (recrc(head + bytes([layout]) + w), "TruncatedFileError",
                                       "ends before the models byte"),
        "v3-truncated-in-grids": (recrc(head + bytes([layout | LAYOUT_GRIDS]) + w + bytes([models, lg])),
                                  "TruncatedFileError", "layout announces grids; the file ends after one"),
        "v3-stream-trailing-zero": (file(layout, w + bytes([models]), stream_bytes + b"\x00"),
                                    "BitstreamError", "the map stream ends with 0x00 (coding §2.6 b)"),
        "v3-stream-trailing-bytes": (file(layout, w + bytes([models]), stream_bytes + b"\x5a" * 30),
                                     "BitstreamError", "30 bytes after both maps (coding §7: the end "
                                     "is checked after the colour map)"),
        "v3-chunks-out-of-order": (_swap_chunks(chunked), "InvalidFieldError",
                                   "PARAMS before SEED in a version 3 chunk list"),
    }


def _swap_chunks(data: bytes) -> bytes:
    """A version 3 file with its SEED and PARAMS chunks swapped (CRC recomputed)."""
    sgc = parse(data)
    seed, params = (sgc.chunk(t) for t in (ChunkType.SEED, ChunkType.PARAMS))
    record = {c.type: bytes([c.type]) + chunks.varint_bytes(len(c.data), 4) + c.data for c in (seed, params)}
    good = record[ChunkType.SEED] + record[ChunkType.PARAMS]
    assert data.count(good) == 1
    return recrc(data[:-2].replace(good, record[ChunkType.PARAMS] + record[ChunkType.SEED]))


def _many_names(count: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    text = "\n".join(f"c{i}" for i in range(count)).encode()
    return b"\x01" + chunks.varint_bytes(count, 2) + packer.compress(text) + packer.flush()


def _crc_starting_01(head: bytes) -> bytes:
    """A file that ends after a SEED chunk, with a CRC whose first byte would read as type 0x01."""
    for seed in range(1, 1 << 14):
        payload = chunks.seed_payload(seed)
        data = recrc(head + bytes([ChunkType.SEED, len(payload)]) + payload)
        if data[-2] == ChunkType.SEED:
            return data
    raise RuntimeError("no seed gives such a CRC")


def _oversize(sgc: SgcFile) -> bytes:
    n = MAX_FILE_BYTES + 1 - len(build(sgc)) - 1  # minus the chunk's type byte ...
    n -= len(chunks.varint_bytes(n, 4))  # ... and its length varint
    data = build(sgc.with_chunk(0x7F, bytes(n)))
    assert len(data) == MAX_FILE_BYTES + 1, len(data)
    return data


def _raw_build(sgc: SgcFile, chunk_list=(), **changes) -> bytes:
    """Build bypassing the writer's checks, to produce files with out-of-range fields."""
    from sgcformat import grammar

    h = dict(width=sgc.width, height=sgc.height, models=0x01,
             label_grid=sgc.label_grid, color_grid=sgc.color_grid, color_quality=sgc.color_quality)
    h.update(changes)
    body = grammar.Body.build(dict(header=h, chunks=[*chunk_list, dict(type=0, data=None)],
                                     label_data=sgc.label_data, color_data=sgc.color_data))
    return recrc(b"SGC\x01" + body)


def bitstream_vectors() -> dict[str, tuple[bytes, str, str]]:
    """Valid containers whose map bitstreams break a rule of coding §2-§4."""
    wide = encode_scene(64, 64, "coco-stuff-182", list(range(100, 160, 4)), 6)
    k = len(np.unique(wide.label_map))
    as_camvid = SgcFile(64, 64, "camvid-11", "preview", wide.label_grid, wide.color_grid,
                        wide.color_quality, wide.label_data, wide.color_data)
    rank_data, _ = rank_outside_payload()
    potsdam = registry.CustomVocabulary.from_names(POTSDAM)
    vocab_chunk = (Chunk(ChunkType.VOCAB, chunks.vocab_payload(POTSDAM)),)
    cells = noise_map(12, 12, 11, 0)
    small = from_maps(cells, "cityscapes-34", 12, 96, 96)
    colour_limit = level_over_limit_payload(8)
    out = {
        "class-outside-vocabulary": (as_camvid, "BitstreamError",
                                     f"k = {k} classes coded for camvid-11 (V = 11): k > V"),
        "custom-class-outside-vocabulary": (
            SgcFile(64, 64, "custom", "preview", wide.label_grid, wide.color_grid,
                    wide.color_quality, wide.label_data, wide.color_data, vocab_chunk),
            "BitstreamError", f"k = {k} classes coded for a custom vocabulary of {potsdam.size}"),
        "labels-rank-outside": (
            SgcFile(96, 96, "cityscapes-34", "preview", 12, 8, 8, rank_data, small.color_data),
            "BitstreamError", "an escape's bit-tree value r ≥ rest (coding §3.3 step 6)"),
        "labels-empty-class-set": (
            SgcFile(64, 64, "ade20k-150", "preview", 16, 8, 8, empty_class_set_payload(),
                    small.color_data), "BitstreamError", "no class present (coding §3.1)"),
        "colors-level-over-limit": (
            SgcFile(2, 2, "camvid-11", "preview", 2, 2, 8, labels.encode(np.zeros((2, 2), int), 11),
                    colour_limit), "BitstreamError", "LL2 level 3000 > 1024 // Δb + 1 (coding §4.4)"),
        "colors-trailing-zero": (
            SgcFile(96, 96, "cityscapes-34", "preview", 12, 8, 8, small.label_data,
                    small.color_data + b"\x00"), "BitstreamError",
            "colour bitstream ends with 0x00 (coding §2.6 b)"),
    }
    return {name: (build(sgc), error, why) for name, (sgc, error, why) in out.items()}


def describe(sgc: SgcFile, data: bytes, why: str) -> dict:
    params = sgc.chunk(ChunkType.PARAMS)
    meta = sgc.metadata
    return {
        "kind": "valid", "why": why, "version": sgc.version, "bytes": len(data),
        "width": sgc.width, "height": sgc.height, "vocab": sgc.vocab, "vocab_id": sgc.vocabulary.id,
        "profile": sgc.profile, "profile_id": registry.profile(sgc.profile).id,
        "label_grid": sgc.label_grid, "color_grid": sgc.color_grid,
        "label_size": list(sgc.label_size), "color_size": list(sgc.color_size),
        "color_quality": sgc.color_quality, "seed": sgc.seed,
        "params": None if params is None else {
            "steps": sgc.params.steps or 0, "strength_percent": params.data[-2],
            "guidance_tenths": params.data[-1]},
        "metadata": None if meta is None else {
            "captured": meta.captured and meta.captured.isoformat(),
            "utc_offset_minutes": meta.utc_offset and meta.utc_offset // dt.timedelta(minutes=1),
            "gps_e7": meta.gps and [round(v * 1e7) for v in meta.gps],
            "altitude_dm": None if meta.altitude is None else round(meta.altitude * 10),
            "make": meta.make, "model": meta.model, "original_name": meta.original_name},
        "class_names": list(sgc.vocabulary.class_names) if sgc.vocab == "custom" else None,
        "chunks": [{"type": c.type, "data_hex": c.data.hex()} for c in sgc.chunks],
        "layout": data[4] if sgc.version >= 3 else None,
        "label_data_hex": sgc.label_data.hex(), "color_data_hex": sgc.color_data.hex(),
        "map_data_hex": sgc.map_data.hex(),
        "label_map": sgc.label_map.tolist(), "color_map": sgc.color_map.tolist(),
    }


def main() -> None:
    if not os.environ.get("SGC_PURE_PYTHON"):
        raise SystemExit("run with SGC_PURE_PYTHON=1: forced decisions patch the Python encoder")
    for sub in ("valid", "invalid"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    valid = valid_vectors()
    for name, (sgc, why) in valid.items():
        data = build(sgc)
        (HERE / "valid" / f"{name}.sgc").write_bytes(data)
        (HERE / "valid" / f"{name}.json").write_text(json.dumps(describe(parse(data), data, why)) + "\n")
    invalid = invalid_vectors(build(valid["coco-512-default"][0]))
    invalid.update(bitstream_vectors())
    invalid.update(v3_invalid_vectors(build(valid["v3-coco-512-default"][0]),
                                      build(valid["v3-ade-portrait-seed-params"][0])))
    for name, (data, error, why) in invalid.items():
        big = len(data) > 1 << 16
        suffix = ".sgc.gz" if big else ".sgc"
        (HERE / "invalid" / f"{name}{suffix}").write_bytes(gzip.compress(data, 9, mtime=0) if big else data)
        record = {"kind": "invalid", "error": error, "why": why, "gzip": big}
        (HERE / "invalid" / f"{name}.json").write_text(json.dumps(record) + "\n")
    print(f"{len(valid)} valid and {len(invalid)} invalid vectors written to {HERE}")


if __name__ == "__main__":
    main()
