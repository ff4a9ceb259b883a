"""``sgc view [PATH ...]``: the viewer as a subcommand of the ``sgc`` CLI."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``view``; PyQt6 loads only when the command actually runs."""
    from .app import build_parser, run

    parser = subparsers.add_parser("view", help="open the desktop viewer",
                                   description="Browse, decode and resample .sgc images.")
    build_parser(parser)
    parser.set_defaults(func=run)
    return parser
