"""Opening .sgc files with Pillow: identification, errors, resources, draft, frames, options.

Written in the style of Pillow's own ``Tests/test_file_*.py``. Everything here runs
without a diffusion model: files of profile ``preview``, or ``draft()``/preview overrides.
"""

from __future__ import annotations

import dataclasses
import gc
import io
import json
import subprocess
import sys
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageSequence, UnidentifiedImageError

import sgcformat
from sgcformat import bridges, registry
from sgcformat.chunks import varint_bytes
from sgcformat.container import ASPECT_MASK, MIME_TYPE, SUPPORTED_VERSIONS, ChunkType, EssentialMetadata
from sgcformat.photo_metadata import to_exif
from sgcformat.pil import N_FRAMES, SgcImageFile, register_sgc_opener
from sgcformat.pil.SgcImagePlugin import _accept

UNSUPPORTED = max(SUPPORTED_VERSIONS) + 1


def expected_preview(path: Path, size=None) -> np.ndarray:
    """What the plugin must show for a preview: the core's own preview renderer."""
    return expected_preview_of(sgcformat.read(path), size)


def expected_preview_of(sgc: sgcformat.SgcFile, size=None) -> np.ndarray:
    return np.asarray(sgcformat.preview(sgc, size))


# -- sanity ------------------------------------------------------------------------------


def test_sanity(preview_file):
    sgc = sgcformat.read(preview_file)
    with Image.open(preview_file) as im:
        assert isinstance(im, SgcImageFile)
        assert im.format == "SGC"
        assert im.mode == "RGB"
        assert im.size == sgc.size
        assert im.get_format_mimetype() == MIME_TYPE
        assert im.tile  # not decoded yet
        im.load()
        assert not im.tile
        assert im.size == sgc.size
        assert np.array_equal(np.asarray(im), expected_preview(preview_file))


def test_registration():
    assert Image.registered_extensions()[".sgc"] == "SGC"
    assert Image.MIME["SGC"] == MIME_TYPE
    assert "SGC" in Image.SAVE


def test_info(generative_file):
    sgc = sgcformat.read(generative_file)
    with Image.open(generative_file) as im:
        assert im.info["profile"] == "ldm-semantic-512"
        assert im.info["vocab"] == "coco-stuff-182"
        assert im.info["seed"] == 7
        assert im.info["label_size"] == sgc.label_size
        assert im.info["color_size"] == sgc.color_size
        assert im.info["color_quality"] == sgc.color_quality
        size = generative_file.stat().st_size
        assert im.info["bpp"] == pytest.approx(size * 8 / (sgc.width * sgc.height))
        assert "exif" not in im.info
        assert im.sgc == sgc


def test_seed_defaults_to_zero_without_seed_chunk(preview_file):
    assert sgcformat.read(preview_file).seed is None
    with Image.open(preview_file) as im:
        assert im.info["seed"] == 0


def test_info_ancillary_chunks(preview_file, tmp_path):
    """EXIF, XMP and ICC chunks become info["exif"/"xmp"/"icc_profile"], in that order and
    before "seed"; the META record stands in for EXIF only where there is no EXIF chunk."""
    meta = EssentialMetadata(make="SGC test camera", original_name="a.jpg")
    base = sgcformat.read(preview_file).with_seed(3).with_metadata(meta)
    only_meta = tmp_path / "meta.sgc"
    sgcformat.write(only_meta, base)
    with Image.open(only_meta) as im:
        assert list(im.info)[-2:] == ["exif", "seed"]
        assert im.info["exif"] == to_exif(meta)
        assert im.getexif()[0x010F] == "SGC test camera"
    full = tmp_path / "full.sgc"
    sgcformat.write(full, base.with_chunk(ChunkType.EXIF, b"raw exif").with_chunk(ChunkType.XMP, b"<x/>")
                    .with_chunk(ChunkType.ICC, b"icc"))
    with Image.open(full) as im:
        assert list(im.info) == ["profile", "vocab", "label_size", "color_size", "color_quality", "bpp",
                                 "exif", "xmp", "icc_profile", "seed"]
        assert (im.info["exif"], im.info["xmp"], im.info["icc_profile"]) == (b"raw exif", b"<x/>", b"icc")
        assert im.info["seed"] == 3


def test_open_from_bytes_io(preview_file):
    with Image.open(io.BytesIO(preview_file.read_bytes())) as im:
        im.load()
        assert np.array_equal(np.asarray(im), expected_preview(preview_file))


def test_open_and_draft_do_not_import_torch(generative_file):
    code = (
        "import sys; from PIL import Image; import sgcformat.pil\n"
        f"im = Image.open({str(generative_file)!r}); print(im.size)\n"
        "im.thumbnail((16, 16)); print(im.size)\n"
        "assert not {'torch', 'diffusers', 'transformers'} & set(sys.modules), 'heavy import'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- invalid files ------------------------------------------------------------------------


def test_accept():
    assert _accept(b"SGC\x01rest")
    assert not _accept(b"\x89PNG\r\n\x1a\n")
    for version in SUPPORTED_VERSIONS:
        assert _accept(b"SGC" + bytes([version]))
    assert f"version {UNSUPPORTED}" in _accept(b"SGC" + bytes([UNSUPPORTED]))


def test_invalid_file():
    with pytest.raises(SyntaxError):
        SgcImageFile(io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(40)))


def test_not_an_image_raises_unidentified():
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(b"not an image at all"))


def test_unsupported_version(preview_file):
    data = bytearray(preview_file.read_bytes())
    data[3] = UNSUPPORTED
    with pytest.warns(UserWarning, match=f"version {UNSUPPORTED}"), pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(bytes(data)))


def test_corrupt_body_opens_and_fails_on_load(preview_file):
    data = bytearray(preview_file.read_bytes())
    data[-5] ^= 0x40  # inside the colour map: only the CRC notices
    with Image.open(io.BytesIO(bytes(data))) as im:
        assert im.size == sgcformat.read(preview_file).size  # the header is intact
        with pytest.raises(OSError, match="CRC"):
            im.load()


def test_corrupt_header_fails_open(preview_file):
    data = bytearray(preview_file.read_bytes())
    sgc = sgcformat.read(preview_file)
    assert sgc.version == 3  # signature, version, layout, width, the height unless the layout implies it
    stored_height = not data[4] & ASPECT_MASK
    models = 5 + len(varint_bytes(sgc.width, 3)) + stored_height * len(varint_bytes(sgc.height, 3))
    data[models] = 0xE0  # vocabulary id 14
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(bytes(data)))
    with pytest.raises(SyntaxError, match="vocabulary"):
        SgcImageFile(io.BytesIO(bytes(data)))


def test_truncated_at_every_length(preview_file):
    data = preview_file.read_bytes()
    opened_lengths = []
    for length in range(len(data)):
        try:
            im = Image.open(io.BytesIO(data[:length]))
        except UnidentifiedImageError:
            continue
        opened_lengths.append(length)
        with im, pytest.raises(OSError, match="truncated"):
            im.load()
    # A cut behind the header opens (the size is known) and fails only when decoding.
    assert opened_lengths
    assert len(data) - 1 in opened_lengths


def test_load_truncated_images(preview_file, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = preview_file.read_bytes()
    # Only the CRC and the colour map's last byte are lost: the picture barely changes.
    with Image.open(io.BytesIO(data[:-1])) as im:
        im.load()
        difference = np.asarray(im, dtype=float) - expected_preview(preview_file)
        assert np.abs(difference).mean() < 10
    # Every length that opens loads to the declared size.
    for length in range(len(data)):
        try:
            im = Image.open(io.BytesIO(data[:length]))
        except UnidentifiedImageError:
            continue
        with im:
            im.load()
            assert im.size == sgcformat.read(preview_file).size


def test_broken_bitstream_raises_oserror_on_load(preview_file):
    sgc = sgcformat.read(preview_file)
    broken = dataclasses.replace(sgc, label_data=b"\xff" * len(sgc.label_data))
    try:
        broken.label_map  # noqa: B018
    except sgcformat.SgcFormatError:
        pass
    else:
        pytest.skip("these bytes happen to decode; the label coder accepted them")
    with Image.open(io.BytesIO(broken.to_bytes())) as im, pytest.raises(OSError, match="broken"):
        im.load()


def test_decompression_bomb(preview_file, monkeypatch):
    width, height = sgcformat.read(preview_file).size
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", width * height - 1)
    with pytest.warns(Image.DecompressionBombWarning), Image.open(preview_file):
        pass
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", width * height // 2 - 1)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(preview_file)


def test_decompression_bomb_uses_declared_size(make_sgc):
    """A 300-byte file may declare 65535×65535: refused before anything is decoded."""
    small = sgcformat.read(make_sgc("s.sgc", label_size=(1, 1), color_size=(1, 1)))
    square = dataclasses.replace(small, width=65535, height=65535)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(square.to_bytes()))


# -- resources ----------------------------------------------------------------------------


def test_unclosed_file(preview_file):
    def open_and_load() -> None:
        im = Image.open(preview_file)
        im.load()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_and_load()


def test_closed_file(preview_file):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        im = Image.open(preview_file)
        im.load()
        im.close()


def test_context_manager(preview_file):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Image.open(preview_file) as im:
            im.load()


def test_file_handle_closed_after_load(preview_file):
    im = Image.open(preview_file)
    fp = im.fp
    im.load()
    assert fp.closed
    assert im.fp is None


def test_caller_file_object_left_open(preview_file):
    with open(preview_file, "rb") as f:
        with Image.open(f) as im:
            im.load()
        assert not f.closed


def retained_bytes(action, repeats: int) -> int:
    """Bytes still allocated after ``repeats`` calls of ``action`` and a garbage collection."""
    for _ in range(20):  # warm up one-time caches (vocabularies, Pillow plugins, numpy)
        action()
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(repeats):
            action()
        gc.collect()  # parsed containers hold reference cycles: count what survives collection
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_memory_bounded_across_many_opens(preview_file):
    def open_only() -> None:
        with Image.open(preview_file) as im:
            assert im.size

    def open_and_load() -> None:
        with Image.open(preview_file) as im:
            im.draft("RGB", (16, 16))
            im.load()

    # Leaking one parsed file (~0.5 kB) per open, or its decoded maps and draft image (~2 kB)
    # per load, would retain several times these bounds; numpy's own caches stay below them.
    assert retained_bytes(open_only, 1000) < 20_000
    assert retained_bytes(open_and_load, 100) < 64_000


def test_concurrent_loads_match_sequential(make_sgc):
    paths = [make_sgc(f"{i}.sgc", color_quality=i % 4) for i in range(6)]
    expected = [expected_preview(p) for p in paths]

    def load(path) -> np.ndarray:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im)

    with ThreadPoolExecutor(max_workers=len(paths)) as pool:  # re-raises a worker's exception
        results = list(pool.map(load, paths))
    for result, e in zip(results, expected, strict=True):
        assert np.array_equal(result, e)


# -- draft and thumbnail ------------------------------------------------------------------


def test_draft_reduces_to_preview(generative_file, no_models):
    with Image.open(generative_file) as im:
        width, height = im.size
        mode, box = im.draft("RGB", (width // 4, height // 4))
        assert mode == "RGB"
        assert im.size == (width // 4, -(-height * (width // 4) // width))
        assert box == (0, 0, *im.size)
        im.load()
        assert np.array_equal(np.asarray(im), expected_preview(generative_file, im.size))


def test_draft_covers_requested_size(preview_file):
    with Image.open(preview_file) as im:
        width, height = im.size
        for request in [(10, 50), (50, 10), (1, 1), (width - 1, height - 1)]:
            im.draft(None, request)
            assert im.size[0] >= min(request[0], width) and im.size[1] >= min(request[1], height)
            assert im.size[0] <= width and im.size[1] <= height
            assert abs(im.size[0] / im.size[1] - width / height) < 2 / min(im.size)


def test_draft_larger_than_image_keeps_size(preview_file):
    with Image.open(preview_file) as im:
        size = im.size
        assert im.draft("RGB", (size[0] * 2, size[1] * 2)) == ("RGB", (0, 0, *size))
        assert im.size == size


def test_draft_after_load_has_no_effect(preview_file):
    with Image.open(preview_file) as im:
        im.load()
        assert im.draft("RGB", (8, 8)) is None
        assert im.size == sgcformat.read(preview_file).size


def test_thumbnail_without_models(generative_file, no_models):
    with Image.open(generative_file) as im:
        im.thumbnail((32, 32))
        assert max(im.size) == 32
        assert im.mode == "RGB"


@pytest.mark.parametrize("size", [(256, 256), (100, 300), (255.9, 80.5)])
def test_thumbnail_paints_the_kept_size(preview_file, size):
    """No Pillow resize after the draft: the preview is painted at the size thumbnail() keeps,
    which is Pillow's own choice and looks like the former draft-at-twice-the-size path."""
    sgc = dataclasses.replace(sgcformat.read(preview_file), width=960, height=640)
    data = sgc.to_bytes()
    with Image.new("1", sgc.size) as probe:
        probe.thumbnail(size)
        kept = probe.size
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail(size)
        assert im.size == kept and not im.tile
        painted = np.asarray(im, dtype=float)
    assert np.array_equal(painted, expected_preview_of(sgc, kept))
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (2 * int(size[0]), 2 * int(size[1])))
        former = np.asarray(im.resize(kept, Image.BICUBIC), dtype=float)
    assert np.abs(painted - former).mean() < 2.0


def test_thumbnail_without_draft_keeps_pillows_path(preview_file):
    sgc = dataclasses.replace(sgcformat.read(preview_file), width=960, height=640)
    with Image.open(io.BytesIO(sgc.to_bytes())) as im:
        im.thumbnail((96, 96), reducing_gap=None)  # no draft: full-size preview, then resize
        assert im.size == (96, 64)


# -- frames -------------------------------------------------------------------------------


def test_one_frame_unless_asked(generative_file, preview_file):
    """Readers that stack frames (imageio.imiter, skimage's pil plugin) must run one decode."""
    with Image.open(generative_file) as im:
        assert im.n_frames == 1
        assert not im.is_animated
        with pytest.raises(EOFError):
            im.seek(1)


def test_frames_opt_in_per_process_and_per_image(generative_file, preview_file):
    register_sgc_opener(frames=N_FRAMES)
    with Image.open(generative_file) as im:
        assert im.n_frames == N_FRAMES
        assert not im.is_animated
    with Image.open(preview_file) as im:
        assert im.n_frames == 1  # the preview does not depend on the seed
    register_sgc_opener()
    with Image.open(generative_file) as im:
        assert im.n_frames == 1
        assert im.decoder_options(frames=3)["frames"] == 3
        assert im.n_frames == 3
        im.seek(2)
        with pytest.raises(ValueError, match="seek"):
            im.decoder_options(frames=2)
        assert im.n_frames == 3
        im.seek(0)
        assert "frames" not in im.decoder_options(frames=None) and im.n_frames == 1


@pytest.mark.parametrize("frames", [0, -1, 1.5, True, 10**6])
def test_frames_option_invalid(frames):
    with pytest.raises(ValueError, match="frames"):
        register_sgc_opener(frames=frames)


def test_seek_tell(generative_file):
    register_sgc_opener(frames=N_FRAMES)
    with Image.open(generative_file) as im:
        assert im.tell() == 0
        for frame in range(N_FRAMES):
            im.seek(frame)
            assert im.tell() == frame
            assert im.info["seed"] == 7 + frame
        with pytest.raises(EOFError):
            im.seek(N_FRAMES)
        with pytest.raises(EOFError):
            im.seek(-1)
        assert im.tell() == N_FRAMES - 1


def test_seed_wraps_around(generative_file):
    register_sgc_opener(frames=N_FRAMES)
    sgc = sgcformat.read(generative_file).with_seed(2**32 - 1)
    with Image.open(io.BytesIO(sgc.to_bytes())) as im:
        im.seek(2)
        assert im.info["seed"] == 1


def test_seek_after_load_decodes_again(generative_file):
    register_sgc_opener(frames=N_FRAMES)
    with Image.open(generative_file) as im:
        im.decoder_options(profile="preview")
        im.load()
        im.seek(1)
        assert im.tile
        im.load()
        assert im.tell() == 1 and not im.tile


def test_image_sequence_yields_every_frame(generative_file):
    register_sgc_opener(frames=N_FRAMES)
    with Image.open(generative_file) as im:
        im.decoder_options(profile="preview")
        seeds = [frame.info["seed"] for frame in ImageSequence.Iterator(im)]
    assert seeds == [7 + k for k in range(N_FRAMES)]


# -- decoder options ----------------------------------------------------------------------


def test_decoder_options_seed_sets_frame_zero(generative_file):
    with Image.open(generative_file) as im:
        im.decoder_options(frames=4)
        assert im.decoder_options(seed=100)["seed"] == 100
        assert im.info["seed"] == 100
        im.seek(3)
        assert im.info["seed"] == 103
        im.decoder_options(seed=None)
        assert im.info["seed"] == 10  # back to the stored seed 7


def test_decoder_options_profile_preview(generative_file, no_models):
    with Image.open(generative_file) as im:
        im.decoder_options(profile="preview")
        im.load()
        assert np.array_equal(np.asarray(im), expected_preview(generative_file))


@pytest.mark.parametrize(
    "options",
    [{"sede": 1}, {"seed": -1}, {"seed": 2**32}, {"steps": 0}, {"steps": 2.5}, {"strength": 0},
     {"strength": 1.5}, {"guidance_scale": 30}, {"profile": "nope"}, {"use_cache": "yes"},
     {"callback": 3}, {"cancel": object()}],
)
def test_decoder_options_invalid(generative_file, options):
    with Image.open(generative_file) as im, pytest.raises(ValueError):
        im.decoder_options(**options)


def test_decoder_options_other_profile_decodes_bridged_labels(generative_file, monkeypatch):
    """A COCO-Stuff file decoded by the ADE20K profile: the decoder gets ADE20K labels."""
    import sgcformat.models

    seen = {}

    def fake_generate(sgc, **kwargs):
        seen.update(vocab=sgc.vocab, profile=sgc.profile, labels=sgc.label_map, **kwargs)
        return Image.new("RGB", sgc.size)

    monkeypatch.setattr(sgcformat.models, "generate", fake_generate)
    with Image.open(generative_file) as im:
        im.decoder_options(profile="sd15-controlnet-seg", dtype="bf16")
        im.load()
        original = im.sgc.label_map
    assert (seen["vocab"], seen["profile"], seen["dtype"]) == ("ade20k-150", "sd15-controlnet-seg", "bf16")
    bridge = bridges.for_profile(registry.vocabulary("coco-stuff-182"), "sd15-controlnet-seg")
    expected = bridge.apply(original)
    assert np.array_equal(seen["labels"], expected)


def test_decoder_options_custom_vocabulary_needs_a_map(tmp_path):
    image = Image.new("RGB", (64, 48), (90, 120, 60))
    labels = Image.fromarray(np.tile(np.arange(6, dtype=np.uint8), (48, 11))[:, :64])
    sgc = sgcformat.encode(image, labels=labels, vocab=registry.CustomVocabulary.from_names(
        ["impervious surfaces", "building", "low vegetation", "tree", "car", "clutter"]))
    path = tmp_path / "potsdam.sgc"
    sgcformat.write(path, sgc)
    with Image.open(path) as im, pytest.raises(ValueError, match="vocab-map"):
        im.decoder_options(profile="ldm-semantic-512")


def test_decoder_options_dtype_is_checked(generative_file):
    with Image.open(generative_file) as im, pytest.raises(ValueError, match="dtype"):
        im.decoder_options(dtype="int8")


def test_decoder_options_after_load(preview_file):
    with Image.open(preview_file) as im:
        im.load()
        with pytest.raises(ValueError, match="before load"):
            im.decoder_options(steps=4)


def test_register_sgc_opener_defaults(generative_file, no_models):
    register_sgc_opener(profile="preview", steps=3)
    with Image.open(generative_file) as im:
        assert im.decoder_options() == {"profile": "preview", "steps": 3}
        im.decoder_options(steps=None)
        assert im.decoder_options()["steps"] == 3  # None restores the default, not "unset"
        im.load()
        assert np.array_equal(np.asarray(im), expected_preview(generative_file))
    register_sgc_opener()
    with Image.open(generative_file) as im:
        assert im.decoder_options() == {}


def test_decoder_options_stay_with_their_image(generative_file):
    """Options set on one image change neither the process defaults nor other open images."""
    register_sgc_opener(frames=3, steps=5)
    with Image.open(generative_file) as first, Image.open(generative_file) as second:
        first.decoder_options(frames=5, steps=None, seed=1)
        assert first.n_frames == 5 and first.decoder_options() == {"frames": 5, "steps": 5, "seed": 1}
        assert first.info["seed"] == 1
        assert second.n_frames == 3 and second.decoder_options() == {"frames": 3, "steps": 5}
        assert second.info["seed"] == 7
        second.decoder_options()["steps"] = 9  # a copy
        assert second.decoder_options()["steps"] == 5
    with Image.open(generative_file) as third:
        assert third.n_frames == 3 and third.decoder_options() == {"frames": 3, "steps": 5}


def test_register_sgc_opener_rejects_per_image_options():
    with pytest.raises(ValueError, match="seed"):
        register_sgc_opener(seed=3)


# -- conformance vectors ------------------------------------------------------------------

VECTORS = Path(__file__).resolve().parents[2] / "spec" / "vectors"


@pytest.mark.parametrize("path", sorted(VECTORS.glob("valid/*.sgc")), ids=lambda p: p.stem)
def test_valid_vector(path):
    sgc = sgcformat.read(path)
    with Image.open(path) as im:
        assert im.size == sgc.size
        assert im.info["profile"] == sgc.profile and im.info["vocab"] == sgc.vocab
        assert im.info["seed"] == (sgc.seed or 0)
        im.draft("RGB", None)
        im.load()
        assert np.array_equal(np.asarray(im), np.asarray(sgcformat.preview(sgc)))


#: Errors a file can have behind a valid header: Image.open succeeds, load() raises OSError.
BODY_ERRORS = {"TruncatedFileError", "ChecksumError", "BitstreamError"}


@pytest.mark.parametrize("path", sorted(VECTORS.glob("invalid/*.sgc")), ids=lambda p: p.stem)
def test_invalid_vector(path):
    expected = json.loads(path.with_suffix(".json").read_text())["error"]
    if expected not in BODY_ERRORS:
        with pytest.raises(UnidentifiedImageError):
            Image.open(path)
        return
    try:
        im = Image.open(path)
    except UnidentifiedImageError:
        return  # e.g. cut inside the header
    with im, pytest.raises(OSError):
        im.draft("RGB", None)
        im.load()


def test_missing_models_extra_is_an_oserror(generative_file):
    code = (
        "import sys; sys.modules['torch'] = None  # as if torch were not installed\n"
        "from PIL import Image; import sgcformat.pil\n"
        f"im = Image.open({str(generative_file)!r})\n"
        "try:\n    im.load()\nexcept OSError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'sgcformat[models]'" in result.stdout
