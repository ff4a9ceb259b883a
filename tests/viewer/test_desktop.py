"""Command line and desktop integration in a temporary HOME (no window needed)."""

from __future__ import annotations

import argparse
import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import sgcformat
from sgcformat.viewer import app, cli, desktop

VIEWER_FILES = ("applications/sgc-viewer.desktop", "mime/packages/sgcformat-mime.xml",
                "icons/hicolor/scalable/apps/sgc-viewer.svg", "thumbnailers/sgc.thumbnailer")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty HOME with XDG_DATA_HOME / XDG_CONFIG_HOME inside it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """Put fake ``sgc-viewer`` / ``sgc-thumbnailer`` commands on an otherwise bare PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, module in (("sgc-viewer", "sgcformat.viewer"),
                         ("sgc-thumbnailer", "sgcformat.viewer.thumbnailer")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m {module} "$@"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return bin_dir


def _entry(path: Path, section: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser[section]


def test_install_and_uninstall_in_a_temporary_home(home, on_path):
    data = home / ".local" / "share"
    assert app.main(["--install-desktop"]) == 0
    for name in VIEWER_FILES:
        assert (data / name).is_file(), name
    launcher = _entry(data / "applications" / "sgc-viewer.desktop", "Desktop Entry")
    # The viewer claims .sgc only: installing must not make it the default for PNG or JPEG.
    assert launcher["MimeType"].split(";") == ["image/x-sgc", ""]
    # sgc-viewer is on PATH: the launcher names it, not a virtualenv's interpreter.
    assert launcher["Exec"] == "sgc-viewer %F"
    thumbnailer = _entry(data / "thumbnailers" / "sgc.thumbnailer", "Thumbnailer Entry")
    assert thumbnailer["MimeType"] == "image/x-sgc;"
    assert thumbnailer["Exec"] == "sgc-thumbnailer -s %s %i %o"
    defaults = _entry(home / ".config" / "mimeapps.list", "Default Applications")
    assert dict(defaults) == {"image/x-sgc": "sgc-viewer.desktop"}
    mime = (data / "mime" / "packages" / "sgcformat-mime.xml").read_text()
    assert 'type="image/x-sgc"' in mime and 'pattern="*.sgc"' in mime

    assert app.main(["--uninstall-desktop"]) == 0
    for name in VIEWER_FILES:
        assert not (data / name).exists(), name
    assert not (home / ".config" / "mimeapps.list").exists()  # only ours was in it
    assert desktop.uninstall() == []  # nothing left to remove


def test_defaults_the_user_chose_are_kept(home, on_path):
    mimeapps = home / ".config" / "mimeapps.list"
    mimeapps.parent.mkdir(parents=True)
    mine = "[Default Applications]\nimage/png=org.gnome.eog.desktop\n\n[Added Associations]\n" \
           "image/jpeg=gimp.desktop;\n"
    mimeapps.write_text(mine)
    desktop.install()
    defaults = _entry(mimeapps, "Default Applications")
    assert defaults["image/png"] == "org.gnome.eog.desktop"
    assert defaults["image/x-sgc"] == "sgc-viewer.desktop"
    desktop.uninstall()
    assert mimeapps.read_text() == mine


def test_without_the_command_on_path_the_launcher_is_absolute(home, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    desktop.install()
    data = home / ".local" / "share"
    for name, section in (("applications/sgc-viewer.desktop", "Desktop Entry"),
                          ("thumbnailers/sgc.thumbnailer", "Thumbnailer Entry")):
        program = shlex.split(_entry(data / name, section)["Exec"])[0]
        assert Path(program).is_absolute() and os.access(program, os.X_OK), program


@pytest.mark.skipif(shutil.which("xdg-mime") is None, reason="xdg-utils not installed")
def test_xdg_mime_defaults_after_install(home, on_path):
    desktop.install()

    def default(mime: str) -> str:
        out = subprocess.run(["xdg-mime", "query", "default", mime], capture_output=True,
                             text=True, env={**os.environ, "XDG_CURRENT_DESKTOP": "X-Generic"})
        return out.stdout.strip()

    assert default("image/x-sgc") == "sgc-viewer.desktop"
    for mime in ("image/png", "image/jpeg", "image/webp"):
        assert default(mime) != "sgc-viewer.desktop", mime


def _run_thumbnailer_exec(home: Path, size: int, source: Path, target: Path):
    """Run the installed thumbnailer the way a file manager does: its Exec line, substituted."""
    entry = _entry(home / ".local" / "share" / "thumbnailers" / "sgc.thumbnailer",
                   "Thumbnailer Entry")
    args = [{"%s": str(size), "%i": str(source), "%o": str(target)}.get(a, a)
            for a in shlex.split(entry["Exec"])]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("size", [32, 64])
def test_installed_thumbnailer_writes_a_png_of_the_requested_size(home, on_path, write_scene,
                                                                  tmp_path, size):
    source = write_scene(tmp_path / "scene.sgc")  # 96 × 64
    desktop.install()
    target = tmp_path / "thumb.png"
    done = _run_thumbnailer_exec(home, size, source, target)
    assert done.returncode == 0, done.stderr
    with Image.open(target) as png:
        assert png.format == "PNG"
        assert max(png.size) == size and png.size[0] / png.size[1] == pytest.approx(1.5, rel=0.1)
        assert png.text["Thumb::URI"] == source.resolve().as_uri()
        expected = sgcformat.read(source)
        assert png.text["Thumb::MTime"] == str(int(source.stat().st_mtime))
        assert expected.profile == "ldm-semantic-512"  # a generative file: yet no model ran


def test_thumbnailer_loads_neither_torch_nor_qt(write_scene, tmp_path):
    source = write_scene(tmp_path / "scene.sgc")
    code = ("import sys; from sgcformat.viewer import thumbnailer; "
            f"rc = thumbnailer.main(['-s', '48', {str(source)!r}, {str(tmp_path / 't.png')!r}]); "
            "print(rc, sorted(m for m in ('torch', 'diffusers', 'PyQt6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 []"


def test_thumbnailer_errors_are_one_line(tmp_path):
    from sgcformat.viewer import thumbnailer

    empty = tmp_path / "empty.sgc"
    empty.write_bytes(b"")
    bad = tmp_path / "bad.sgc"
    bad.write_bytes(b"not an sgc file at all")
    for source, words in ((empty, "empty file"), (bad, "bad.sgc")):
        done = subprocess.run([sys.executable, "-m", "sgcformat.viewer.thumbnailer", "-s", "64",
                               str(source), str(tmp_path / "out.png")],
                              capture_output=True, text=True)
        assert done.returncode == 1
        assert len(done.stderr.strip().splitlines()) == 1 and words in done.stderr
    assert not (tmp_path / "out.png").exists()
    assert thumbnailer.MAX_SIZE >= 1024


def test_sgc_view_subcommand_parses_paths(tmp_path):
    parser = argparse.ArgumentParser(prog="sgc")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["view", str(tmp_path), "a.sgc", "--steps", "8"])
    assert args.func is app.run
    assert args.paths == [str(tmp_path), "a.sgc"] and args.steps == 8
    assert not args.install_desktop
