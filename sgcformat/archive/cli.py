"""``sgc archive encode | status | decode``: a thin layer over :mod:`sgcformat.archive`.

Exit status: 0 when every file succeeded, 3 when some failed (their count on stderr, the
details in the manifest), 1 for usage errors and runs that could not go on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import registry
from ..photo_metadata import KEEP_CHOICES
from .encode import ENGINES, encode_tree
from .manifest import NAME, Manifest
from .restore import FORMATS, decode_tree
from .summary import Summary

EXIT_OK, EXIT_ERROR, EXIT_FAILURES = 0, 1, 3


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors exit with status 1, as the archive contract says (argparse uses 2)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def add_parser(subparsers) -> None:
    """Register ``archive`` under the ``sgc`` command (entry point ``sgcformat.cli``)."""
    archive = subparsers.add_parser("archive", help="encode, inspect or restore whole photo trees")
    sub = archive.add_subparsers(dest="archive_command", required=True, metavar="ACTION",
                                 parser_class=_Parser)

    p = sub.add_parser("encode", help="encode every image under SRC into DEST (resumable)")
    p.add_argument("src", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, dest="dest")
    p.add_argument("--labels-dir", type=Path, help="label maps mirror SRC under this folder")
    p.add_argument("--labels-pattern", default="{stem}.png",
                   help="label map file name; {stem} and {name} come from the photo's name")
    p.add_argument("--vocab", choices=sorted(registry.VOCABULARIES))
    p.add_argument("--profile", choices=sorted(registry.PROFILES))
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--target-bytes", type=_positive, metavar="N")
    budget.add_argument("--bpp", type=float)
    p.add_argument("--keep-metadata", choices=KEEP_CHOICES, default="essential")
    _engine_options(p, batch_default=8)
    p.set_defaults(func=_encode)

    p = sub.add_parser("status", help="totals and failures from DEST's manifest")
    p.add_argument("dest", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_status)

    p = sub.add_parser("decode", help="restore the images of an archive (resumable)")
    p.add_argument("dest", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, dest="out")
    p.add_argument("--preview", action="store_true", help="weight-free previews, no model")
    p.add_argument("--seeds", type=_positive, default=1, metavar="K", help="K decodes per file")
    p.add_argument("--format", choices=sorted(FORMATS), help="default: each photo's original format")
    p.add_argument("--steps", type=_positive)
    p.add_argument("--fast", action="store_true", help="the profile's few-step mode")
    _engine_options(p, batch_default=4)
    p.set_defaults(func=_decode)


def _engine_options(p: argparse.ArgumentParser, batch_default: int) -> None:
    p.add_argument("--workers", type=_positive, default=1, help="CPU worker processes")
    p.add_argument("--batch-size", type=_positive, default=batch_default, metavar="B",
                   help="images per model call")
    p.add_argument("--device", help="device of the model (cuda, mps, cpu)")
    p.add_argument("--engine", choices=ENGINES, default="local")
    p.add_argument("--ray-address", help="Ray cluster to join (default: a local Ray)")
    p.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")


def _finish(summary: Summary) -> int:
    print(summary.text())
    if summary.failed:
        print(f"sgc: {summary.failed} file(s) failed; see `sgc archive status`", file=sys.stderr)
        return EXIT_FAILURES
    return EXIT_OK


def _encode(args: argparse.Namespace) -> int:
    return _finish(encode_tree(
        args.src, args.dest, labels_dir=args.labels_dir, labels_pattern=args.labels_pattern,
        vocab=args.vocab, profile=args.profile, target_bytes=args.target_bytes, bpp=args.bpp,
        keep_metadata=args.keep_metadata, workers=args.workers, batch_size=args.batch_size,
        device=args.device, engine=args.engine, ray_address=args.ray_address, dry_run=args.dry_run,
        progress=True))


def _decode(args: argparse.Namespace) -> int:
    return _finish(decode_tree(
        args.dest, args.out, preview=args.preview, seeds=args.seeds, format=args.format,
        steps=args.steps, workers=args.workers, batch_size=args.batch_size, device=args.device,
        fast=args.fast, engine=args.engine, ray_address=args.ray_address, dry_run=args.dry_run,
        progress=True))


def _status(args: argparse.Namespace) -> int:
    if not (args.dest / NAME).exists():
        raise FileNotFoundError(2, "no archive manifest", str(args.dest / NAME))
    with Manifest(args.dest) as manifest:
        totals = manifest.totals()
    if args.json:
        print(json.dumps(totals))
    else:
        ratio = f"{totals['ratio']:.0f}:1" if totals["ratio"] else "-"
        print(f"{args.dest}: {totals['files']} files: {totals['ok']} ok, {totals['failed']} failed, "
              f"{totals['skipped']} skipped; {totals['source_bytes']} -> {totals['sgc_bytes']} bytes "
              f"(ratio {ratio})")
        for failure in totals["failures"]:
            print(f"  {failure['source']}: {failure['error']}")
    return EXIT_FAILURES if totals["failed"] else EXIT_OK
