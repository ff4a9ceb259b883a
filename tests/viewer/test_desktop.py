"""Command line and desktop integration (no window needed)."""

from __future__ import annotations

import argparse
import configparser

from sgcformat.viewer import app, cli, desktop


def test_install_desktop_is_user_level_and_reversible(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert app.main(["--install-desktop"]) == 0
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(tmp_path / "applications" / "sgc-viewer.desktop")
    section = entry["Desktop Entry"]
    assert "image/x-sgc" in section["MimeType"].split(";")
    assert section["Exec"].endswith(" %F") and section["Exec"] != "sgc-viewer %F"  # absolute
    mime = (tmp_path / "mime" / "packages" / "sgcformat-mime.xml").read_text()
    assert 'type="image/x-sgc"' in mime and 'pattern="*.sgc"' in mime
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "sgc-viewer.svg") in written

    assert app.main(["--uninstall-desktop"]) == 0
    for name in ("applications/sgc-viewer.desktop", "mime/packages/sgcformat-mime.xml",
                 "icons/hicolor/scalable/apps/sgc-viewer.svg"):
        assert not (tmp_path / name).exists()
    assert desktop.uninstall(tmp_path) == []  # nothing left to remove


def test_sgc_view_subcommand_parses_paths(tmp_path):
    parser = argparse.ArgumentParser(prog="sgc")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["view", str(tmp_path), "a.sgc", "--steps", "8"])
    assert args.func is app.run
    assert args.paths == [str(tmp_path), "a.sgc"] and args.steps == 8
    assert not args.install_desktop
