"""Hostile inputs (issue 9): every reproducer is rejected or handled with bounded memory.

Memory is asserted with tracemalloc peaks (Python and numpy allocations: deterministic),
never wall-clock time; ``bench/hostile.py`` measures times and RSS, and rebuilds the same
reproducers that these tests use.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from PIL import Image

import sgcformat
import sgcformat.models
import sgcformat.pil  # registers the format
from sgcformat import limits
from sgcformat.preview_decoder import render_preview

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20

_spec = importlib.util.spec_from_file_location("hostile_bench", ROOT / "bench" / "hostile.py")
hostile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hostile)


def peak(action) -> int:
    """tracemalloc peak in bytes of ``action()``; exceptions propagate."""
    tracemalloc.start()
    try:
        action()
    finally:
        result = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


def raises_within(action, error, limit: int) -> None:
    def run():
        with pytest.raises(error):
            action()

    assert peak(run) <= limit


@pytest.fixture
def write(tmp_path):
    def write(data: bytes, name: str = "input.sgc") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


# -- chunk flood -----------------------------------------------------------------------------


@pytest.mark.parametrize("total", [MiB, 16 * MiB])
@pytest.mark.parametrize("good_crc", [True, False])
def test_chunk_flood_is_rejected_by_read_and_open(write, total, good_crc):
    path = write(hostile.chunk_flood(total, good_crc))
    assert path.stat().st_size <= 16 * MiB
    raises_within(lambda: sgcformat.read(path), sgcformat.SgcFormatError, 32 * MiB)
    raises_within(lambda: Image.open(path), Image.UnidentifiedImageError, 32 * MiB)


# -- preview cost does not depend on the number of classes -------------------------------------


@pytest.mark.parametrize(("classes", "vocab"), [(182, "coco-stuff-182"), (150, "ade20k-150")])
def test_preview_memory_independent_of_classes(classes, vocab):
    many = sgcformat.read(hostile.many_classes(classes, vocab))
    two = sgcformat.read(hostile.many_classes(2, vocab))
    for sgc in (many, two):
        sgc.label_map, sgc.color_map  # noqa: B018 - decode outside the measurement
    cost_many = peak(lambda: render_preview(many, (256, 256)))
    cost_two = peak(lambda: render_preview(two, (256, 256)))
    assert cost_many <= 32 * MiB
    assert cost_many <= 1.25 * cost_two  # was ~540 MiB with 182 classes, growing with the count


def test_thumbnail_of_many_classes_is_bounded(write):
    path = write(hostile.many_classes(182, "coco-stuff-182"))

    def thumbnail():
        with Image.open(path) as im:
            im.thumbnail((256, 256))
            assert im.size == (256, 256)

    assert peak(thumbnail) <= 32 * MiB


def test_full_size_preview_memory_is_about_the_output(tmp_path):
    """RSS, not tracemalloc: Pillow's buffers are the output. Bound: 2x the output image."""
    path = tmp_path / "big.sgc"
    path.write_bytes(hostile.declared_size(4000, 3000))
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc to read the peak RSS")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "hostile.py"), "--child",
                          "load() (full-size preview)", str(path)], capture_output=True, text=True,
                         check=True)
    result = hostile.json.loads(out.stdout.splitlines()[-1])
    assert result["outcome"] == "ok"
    assert result["rss"] <= 2 * 4000 * 3000 * 4  # Pillow holds RGB as 4 bytes a pixel


# -- declared-size amplification: the pixel limit ----------------------------------------------


def test_library_refuses_huge_declared_sizes_before_allocating(monkeypatch):
    huge = sgcformat.read(hostile.declared_size(65535, 65535))
    raises_within(lambda: render_preview(huge), limits.DecompressionBombError, MiB)
    raises_within(lambda: sgcformat.preview(huge), limits.DecompressionBombError, MiB)
    # 9000x9000 (81 M pixels) is above twice the library's limit as well.
    with pytest.raises(limits.DecompressionBombError, match="9000x9000"):
        render_preview(sgcformat.read(hostile.declared_size(9000, 9000)))
    monkeypatch.setattr(sgcformat.models, "generate", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(limits.DecompressionBombError):
        sgcformat.decode(dataclasses.replace(huge, profile="ldm-semantic-512"))


def test_library_limit_has_pillows_semantics(monkeypatch):
    monkeypatch.setattr(limits, "MAX_IMAGE_PIXELS", 1000)
    with pytest.warns(limits.DecompressionBombWarning):
        assert render_preview(sgcformat.read(hostile.declared_size(40, 40))).size == (40, 40)
    with pytest.raises(limits.DecompressionBombError):
        render_preview(sgcformat.read(hostile.declared_size(50, 50)))
    assert render_preview(sgcformat.read(hostile.declared_size(10, 10))).size == (10, 10)
    monkeypatch.setattr(limits, "MAX_IMAGE_PIXELS", None)
    assert render_preview(sgcformat.read(hostile.declared_size(50, 50))).size == (50, 50)
    assert issubclass(limits.DecompressionBombError, sgcformat.SgcError)


def test_plugin_uses_pillows_limit(write, monkeypatch):
    with pytest.raises(Image.DecompressionBombError):
        Image.open(write(hostile.declared_size(65535, 65535)))
    path = write(hostile.declared_size(9000, 9000))  # under Pillow's 89.5 M pixels

    def thumbnail():
        with Image.open(path) as im:
            im.thumbnail((256, 256))
            assert im.size == (256, 256)

    assert peak(thumbnail) <= MiB  # a draft paints 256x256, not 9000x9000
    with Image.open(path) as im:
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # lowered after open: load() checks
        with pytest.raises(Image.DecompressionBombError):
            im.load()


@pytest.mark.parametrize(("width", "height"), [(65535, 65535), (9000, 9000)])
def test_cli_decode_preview_of_huge_declared_size_is_one_line(write, tmp_path, width, height):
    path = write(hostile.declared_size(width, height))
    out = tmp_path / "out.png"
    result = subprocess.run([sys.executable, "-m", "sgcformat.cli", "decode", str(path), "-o", str(out),
                             "--preview"], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sgc: error: image size")
    assert not out.exists()


# -- a normal file costs what it is -------------------------------------------------------------


def test_opening_a_small_file_allocates_little(write):
    path = write(hostile.normal_file())
    assert path.stat().st_size < 200
    sgcformat.read(path)  # warm imports and caches
    assert peak(lambda: sgcformat.read(path)) <= MiB
    assert peak(lambda: Image.open(path).close()) <= MiB  # was 16 MiB: read(MAX_FILE_BYTES + 1)


def test_cli_warning_band_is_one_line(write, tmp_path):
    path = write(hostile.declared_size(40, 40))
    out = tmp_path / "out.png"
    script = ("import sys; from sgcformat import limits, cli; limits.MAX_IMAGE_PIXELS = 1000; "
              "sys.exit(cli.main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", script, "decode", str(path), "-o", str(out), "--preview"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and out.exists()
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sgc: warning: image size 40x40")
