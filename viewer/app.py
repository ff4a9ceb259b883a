"""Entry point of ``sgc-viewer`` (and of ``sgc view``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Options shared by ``sgc-viewer`` and ``sgc view``."""
    parser = parser or argparse.ArgumentParser(
        prog="sgc-viewer", description="Browse, decode and resample .sgc images.")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or folders to open (one folder: browse it)")
    parser.add_argument("--no-generative-thumbnails", action="store_true",
                        help="keep the weight-free previews in the browser")
    parser.add_argument("--steps", type=int, metavar="N",
                        help="sampling steps per decode (default: each file's profile)")
    parser.add_argument("--install-desktop", action="store_true",
                        help="register the viewer and image/x-sgc for this user, then exit")
    parser.add_argument("--uninstall-desktop", action="store_true",
                        help="remove what --install-desktop wrote, then exit")
    return parser


def run(args: argparse.Namespace) -> int:
    """Start the GUI (or do the desktop-integration chore) for parsed arguments."""
    if args.install_desktop or args.uninstall_desktop:
        from . import desktop

        files = desktop.install() if args.install_desktop else desktop.uninstall()
        verb = "installed" if args.install_desktop else "removed"
        for path in files:
            print(f"{verb} {path}")
        return 0

    from PyQt6.QtWidgets import QApplication

    from .window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("sgc-viewer")
    app.setOrganizationName("sgcformat")
    app.setDesktopFileName("sgc-viewer")
    window = MainWindow(generative_thumbnails=not args.no_generative_thumbnails,
                        decode_steps=args.steps)
    window.show()
    window.open_paths(args.paths or [window.settings.last_folder() or "."])
    return app.exec()


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
