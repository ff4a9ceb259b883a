"""Atomic writes keep file modes: a rewrite keeps the old mode, a new file follows the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from PIL import Image

from sgcformat.files import atomic_write_bytes, save_image_atomic

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.fixture
def umask():
    """Set the process umask for one test, restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002, 0o077])
def test_new_file_follows_the_umask_like_cp(tmp_path, umask, mask):
    umask(mask)
    target = tmp_path / "new.bin"
    atomic_write_bytes(target, b"data")
    reference = tmp_path / "reference.bin"
    reference.write_bytes(b"data")  # what open() / cp give a new file
    assert _mode(target) == _mode(reference) == 0o666 & ~mask
    assert target.read_bytes() == b"data"


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664, 0o640, 0o444, 0o755])
def test_rewrite_keeps_the_existing_mode(tmp_path, umask, mode):
    umask(0o077)  # a different umask must not leak into a rewrite
    target = tmp_path / "old.sgc"
    target.write_bytes(b"old")
    target.chmod(mode)
    atomic_write_bytes(target, b"new contents")
    assert _mode(target) == mode
    assert target.read_bytes() == b"new contents"


def test_image_writer_uses_the_same_rules(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "out.png"
    save_image_atomic(Image.new("RGB", (4, 3), "red"), target)
    assert _mode(target) == 0o644
    target.chmod(0o660)
    save_image_atomic(Image.new("RGB", (4, 3), "blue"), target)
    assert _mode(target) == 0o660
    with Image.open(target) as im:
        assert im.getpixel((0, 0)) == (0, 0, 255)


def test_rewrite_keeps_the_group_where_permitted(tmp_path):
    target = tmp_path / "grouped.bin"
    target.write_bytes(b"old")
    groups = [g for g in os.getgroups() if g != os.getegid()]
    if not groups and os.geteuid() != 0:
        pytest.skip("the user belongs to one group only")
    group = groups[0] if groups else 1
    os.chown(target, -1, group)
    atomic_write_bytes(target, b"new")
    assert target.stat().st_gid == group


def test_rewrite_keeps_the_owner_as_root(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root may give a file to another user")
    target = tmp_path / "owned.bin"
    target.write_bytes(b"old")
    os.chown(target, 1234, 1234)
    atomic_write_bytes(target, b"new")
    assert (target.stat().st_uid, target.stat().st_gid) == (1234, 1234)


def test_no_temporary_file_is_left_behind(tmp_path):
    target = tmp_path / "x.bin"
    for i in range(3):
        atomic_write_bytes(target, bytes([i]))
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]
