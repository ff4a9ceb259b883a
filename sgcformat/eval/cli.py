"""``sgc eval``: the evaluation harness on the command line (registered as an entry point)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..registry import PROFILES, VOCABULARIES


def add_parser(subparsers) -> None:
    """Add ``eval`` to the ``sgc`` subcommands; heavy imports wait until it runs."""
    p = subparsers.add_parser(
        "eval", help="evaluate SGC against classical codecs at equal rate (report.md/.html)",
        description="Encode every image of a folder with SGC, decode it with K seeds, compress it "
        "with the classical codecs at the same size, score everything and write a report. "
        "Per-image results are cached: rerunning resumes an interrupted run.",
    )
    p.add_argument("images", type=Path, help="folder of images (*.label.png files are skipped)")
    p.add_argument("-o", "--output", type=Path, required=True, help="report folder")
    p.add_argument("--profile", action="append", choices=sorted(PROFILES), dest="profiles",
                   help="decoder profile to evaluate (repeatable; the first sets the baselines' rate)")
    p.add_argument("--labels-dir", type=Path,
                   help="label maps <stem>.label.png or <stem>.png to encode instead of segmenting")
    p.add_argument("--vocab", choices=sorted(VOCABULARIES),
                   help="vocabulary of the label maps (default: the profile's)")
    p.add_argument("--seeds", type=int, default=1, help="decodes per file (diversity), default 1")
    p.add_argument("--target-bytes", type=int, help="SGC byte budget (default: the encoder's grids)")
    p.add_argument("--codec", action="append", dest="codecs",
                   help="classical codec to compare (repeatable; default: all available)")
    p.add_argument("--steps", type=int, help="diffusion steps (default: the profile's)")
    p.add_argument("--device", help="torch device, e.g. cuda or cpu")
    p.add_argument("--clip-model", help="CLIP model id or folder for the CLIP metric")
    p.add_argument("--limit", type=int, help="evaluate only the first N images")
    p.add_argument("--note", default="", help="a remark printed at the top of the report")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    # The eval extra's packages, imported first so that a core install fails before any work
    # (the CLI turns the ImportError into its one-line install hint).
    import matplotlib  # noqa: F401
    import tqdm  # noqa: F401

    from . import report, run
    from .metrics import CLIP_MODEL

    if args.seeds < 1:
        raise ValueError("--seeds must be at least 1")
    config = run.EvalConfig(
        images_dir=args.images, out_dir=args.output, profiles=tuple(args.profiles or ["preview"]),
        labels_dir=args.labels_dir, vocab=args.vocab, seeds=args.seeds,
        target_bytes=args.target_bytes, codecs=tuple(args.codecs) if args.codecs else None,
        steps=args.steps, device=args.device, clip_model=args.clip_model or CLIP_MODEL,
        limit=args.limit, note=args.note,
    )
    results = run.run(config)
    set_level = run.set_metrics(config, results)
    md, page = report.write_report(results, config.to_json(), set_level, config.out_dir)
    print(f"{md}\n{page}")
    return 0
