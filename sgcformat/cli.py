"""The ``sgc`` command line: ``encode``, ``decode``, ``info``, plus subcommands that other
parts of the distribution register under the ``sgcformat.cli`` entry-point group
(``models``, ``eval``, ``view``), so the core never imports them.

Errors print one line on stderr and exit with status 1 (2 for usage errors); never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from importlib.metadata import entry_points, requires
from pathlib import Path

import numpy as np

from . import container, registry
from .bridges import bridges_of
from .errors import SgcError
from .files import save_image_atomic

EXIT_ERROR = 1


def _size(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("sizes are positive integers")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgc", description="SGC: images stored as what they mean, a few hundred bytes each.")
    parser.add_argument("--version", action="version", version=f"sgc {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("encode", help="encode an image to .sgc")
    p.add_argument("image", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--labels", type=Path, help="label map PNG in the vocabulary's encoding")
    vocab = p.add_mutually_exclusive_group()
    vocab.add_argument("--vocab", choices=sorted(registry.VOCABULARIES))
    vocab.add_argument("--vocab-file", type=Path, metavar="NAMES.txt",
                       help="your own class list, one name per line, stored in the file (custom "
                            "vocabulary); --labels values are then 0..N-1 (255 = unlabeled)")
    p.add_argument("--profile", choices=sorted(registry.PROFILES))
    p.add_argument("--label-size", nargs=2, type=_size, metavar=("W", "H"))
    p.add_argument("--color-size", nargs=2, type=_size, metavar=("W", "H"))
    p.add_argument("--color-quality", type=int, metavar="Q")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--target-bytes", type=_size, metavar="N")
    budget.add_argument("--bpp", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="device for the segmentation network")
    p.add_argument("--format-version", type=int, choices=container.SUPPORTED_VERSIONS,
                   default=container.SUPPORTED_VERSIONS[-1],
                   help="file format version to write (default: the newest; 2 or 1 for older readers)")
    p.set_defaults(func=cmd_encode, extra="models")

    p = sub.add_parser("decode", help="decode .sgc to an image")
    p.add_argument("file", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--preview", action="store_true", help="weight-free preview, not the generative decode")
    p.add_argument("--seed", type=int, help="default: the file's stored seed, else 0")
    p.add_argument("--steps", type=_size)
    p.add_argument("--device", choices=["cuda", "mps", "cpu"])
    p.add_argument("--fast", action="store_true", help="the profile's few-step mode (e.g. LCM-LoRA)")
    p.add_argument("--dtype", choices=["fp32", "fp16", "bf16"],
                   help="decoder precision (default: the profile's accurate one; fp32 for the LDM)")
    p.add_argument("--batch-seeds", type=_size, default=1, metavar="K",
                   help="decode K seeds (seed, seed+1, ...) to OUTPUT-seedN.png")
    p.add_argument("--profile", choices=sorted(registry.PROFILES),
                   help="decode with this profile instead of the file's; a vocabulary bridge maps "
                        "the labels when it was trained on another vocabulary")
    p.add_argument("--vocab-map", type=Path, metavar="TSV",
                   help="your class-mapping table (SOURCE<TAB>TARGET rows) onto the profile's vocabulary, "
                        "e.g. for a file with its own class list")
    p.set_defaults(func=cmd_decode, extra="models")

    p = sub.add_parser("info", help="describe .sgc files (a folder: every .sgc in it, recursively)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file and line (JSON Lines)")
    p.set_defaults(func=cmd_info)

    for ep in entry_points(group="sgcformat.cli"):
        extra = ep.extras[0] if ep.extras else ep.name
        try:
            ep.load()(sub)
        except ImportError as exc:  # that part of the distribution is not installed
            _add_missing(sub, ep.name, extra, exc)
            continue
        if ep.name in sub.choices:
            sub.choices[ep.name].set_defaults(extra=extra)
    return parser


def _add_missing(sub, name: str, extra: str, exc: ImportError) -> None:
    """A stand-in for a subcommand whose module cannot be imported: it takes any arguments
    and fails with the install hint, so ``sgc NAME`` never reads "invalid choice"."""
    p = sub.add_parser(name, help=f"(needs pip install 'sgcformat[{extra}]')", add_help=False)
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    p.set_defaults(func=_raise(exc), extra=extra, takes_any=True)


def _raise(exc: ImportError):
    def func(args: argparse.Namespace) -> int:
        raise exc

    return func


def _version() -> str:
    from . import __version__

    return __version__


def cmd_encode(args: argparse.Namespace) -> int:
    from .codec import encode

    profile, note = args.profile, ""
    if profile is None and args.labels is None and args.vocab is None and args.vocab_file is None:
        profile = registry.DEFAULT_PROFILE_FOR_VOCAB[registry.DEFAULT_VOCAB]
        note = f", profile {profile} (the default; --profile picks another)"
    vocab = args.vocab
    if args.vocab_file is not None:
        vocab = registry.CustomVocabulary.from_text(args.vocab_file.read_text(encoding="utf-8"))
    sgc = encode(
        args.image, labels=args.labels, vocab=vocab, profile=profile,
        target_bytes=args.target_bytes, bpp=args.bpp, label_size=args.label_size,
        color_size=args.color_size, color_quality=args.color_quality, seed=args.seed,
        device=args.device, version=args.format_version,
    )
    data = sgc.to_bytes()
    container.write(args.output, data)
    print(f"{args.output}: {len(data)} bytes, {8 * len(data) / (sgc.width * sgc.height):.4f} bpp{note}")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    sgc = container.read(args.file)
    if args.profile or args.vocab_map:
        sgc = _bridged(sgc, args.profile, args.vocab_map)
    if args.preview:
        from .preview_decoder import render_preview

        save_image_atomic(render_preview(sgc), args.output)
        return 0
    from .limits import check_pixels
    from .models import generate_batch

    check_pixels(*sgc.size)

    first = args.seed if args.seed is not None else (sgc.seed or 0)
    seeds = list(range(first, first + args.batch_seeds))
    outputs = ([args.output] if len(seeds) == 1 else
               [args.output.with_name(f"{args.output.stem}-seed{s}{args.output.suffix}")
                for s in seeds])
    with _ProgressBar(f"decoding {args.file.name}") as progress:
        images = generate_batch(sgc, seeds, steps=args.steps, device=args.device, fast=args.fast,
                                dtype=args.dtype, callback=progress.update)
    for image, path, seed in zip(images, outputs, seeds, strict=True):
        save_image_atomic(image, path)
        print(f"{path} (seed {seed})")
    return 0


def _bridged(sgc: container.SgcFile, profile: str | None, vocab_map: Path | None) -> container.SgcFile:
    """The file as ``profile`` decodes it (default: the file's, or for a preview file the default
    vocabulary's), printing the bridge that maps its labels when one does."""
    from .bridges import for_profile, retarget

    if profile is None:
        stored = registry.profile(sgc.profile).vocab
        profile = sgc.profile if stored else registry.DEFAULT_PROFILE_FOR_VOCAB[registry.DEFAULT_VOCAB]
    bridge = for_profile(sgc.vocabulary, profile, vocab_map)
    if bridge is not None:
        print(f"{profile}: labels through the bridge {bridge.describe()}")
    return retarget(sgc, profile, vocab_map)


class _ProgressBar:
    """A tqdm bar driven by ``update(step, total)``; silent when tqdm is missing or stderr is no tty."""

    def __init__(self, description: str):
        self.description, self.bar = description, None

    def update(self, step: int, total: int) -> None:
        if self.bar is None:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, desc=self.description, unit="step", leave=False,
                            disable=not sys.stderr.isatty())
        self.bar.update(step - self.bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def info_dict(sgc: container.SgcFile, nbytes: int) -> dict:
    """The fields ``sgc info --json`` prints (also used by the viewer and the plugin docs)."""
    return {
        "version": sgc.version,
        "width": sgc.width,
        "height": sgc.height,
        "vocab": sgc.vocab,
        # a custom vocabulary's whole class list (VOCAB chunk); registry lists are in the spec
        "vocab_classes": list(sgc.vocabulary.class_names) if sgc.vocab == "custom" else None,
        "profile": sgc.profile,
        "seed": sgc.seed,
        "label_size": list(sgc.label_size),
        "color_size": list(sgc.color_size),
        "color_quality": sgc.color_quality,
        "classes": _present_display_names(sgc),
        "bytes": nbytes,
        "bpp": 8 * nbytes / (sgc.width * sgc.height),
        "chunks": sgc.chunk_table(),
        "metadata": _metadata(sgc),
        "bridges": bridges_of(sgc.vocabulary),
    }


def _metadata(sgc: container.SgcFile) -> dict | None:
    """The essential metadata record (META chunk) as JSON-ready fields, ``None`` without one."""
    meta = sgc.metadata
    if meta is None:
        return None
    fields = {k: v for k, v in vars(meta).items() if v is not None}
    if "captured" in fields:
        fields["captured"] = fields["captured"].isoformat()
    if "utc_offset" in fields:
        fields["utc_offset"] = fields["utc_offset"].total_seconds() / 3600
    if "gps" in fields:
        fields["gps"] = [round(v, 7) for v in fields["gps"]]
    return fields


def _present_display_names(sgc: container.SgcFile) -> list[str]:
    names = sgc.vocabulary.display_names
    # bincount, not np.unique: ~10x cheaper on these small maps, and sgc info runs it per file
    return [names[i] for i in np.flatnonzero(np.bincount(sgc.label_map.ravel()))]


def _info_paths(paths: Sequence[Path]) -> Iterator[Path]:
    """The files named, with each folder replaced by the .sgc files under it: each folder's
    files in name order, then its subfolders (os.walk: 20x cheaper than sorted(rglob))."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for folder, subfolders, names in os.walk(path):
            subfolders.sort()
            yield from (Path(folder, n) for n in sorted(names) if n.endswith(container.EXTENSION))


def cmd_info(args: argparse.Namespace) -> int:
    """Describe every file; a bad one gets an error line and exit status 1, the others still print."""
    status = 0
    out = sys.stdout
    for path in _info_paths(args.files):
        try:
            with open(path, "rb", buffering=0) as f:  # one small read: no buffer needed
                data = container.read_limited(f)
            info = info_dict(container.parse(data), len(data))
        except (SgcError, OSError, ValueError) as exc:
            status = EXIT_ERROR
            if args.json:
                out.write(json.dumps({"file": str(path), "error": _message(exc)}) + "\n")
            else:
                print(f"sgc: error: {path}: {_message(exc)}", file=sys.stderr)
            continue
        if args.json:
            out.write(json.dumps({"file": str(path), **info}) + "\n")
        else:
            _print_info(path, info)
    return status


def _print_info(path: Path, info: dict) -> None:
    print(f"{path}: SGC {info['width']}x{info['height']}, {info['bytes']} bytes, "
          f"{info['bpp']:.4f} bpp, format version {info['version']}")
    print(f"  profile {info['profile']}, vocabulary {info['vocab']}, seed {info['seed']}")
    if info["vocab_classes"]:
        print(f"  custom vocabulary of {len(info['vocab_classes'])}: {', '.join(info['vocab_classes'])}")
    print(f"  label map {'x'.join(map(str, info['label_size']))}, colour map "
          f"{'x'.join(map(str, info['color_size']))} at quality {info['color_quality']}")
    print(f"  classes: {', '.join(info['classes'])}")
    print("  " + ", ".join(f"{c['type']} {c['bytes']} B" for c in info["chunks"]))
    if info["metadata"]:
        print("  metadata: " + ", ".join(f"{k} {v}" for k, v in info["metadata"].items()))
    for name, how in info["bridges"].items():
        print(f"  decodes with {name}: {how}")


def _extra_providing(module: str, default: str) -> str:
    """The extra whose requirements include ``module``: the command's own when it does (scipy is
    in two), else the first that does, else the command's."""
    top = module.split(".")[0].lower()
    extras = []
    for requirement in requires("sgcformat") or []:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        extra = re.search(r"extra\s*==\s*[\"']([^\"']+)", requirement)
        if name and extra and name.group().lower().replace("-", "_") == top:
            extras.append(extra.group(1))
    return default if default in extras or not extras else extras[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "takes_any", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line  # e.g. the pixel limit's warning band
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("sgc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`sgc info DIR | head`): not an error to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except ImportError as exc:  # an optional part of the distribution is not installed
        missing = getattr(exc, "name", None) or "an optional package"
        extra = _extra_providing(missing, getattr(args, "extra", None) or args.command)
        print(f"sgc: error: sgc {args.command} needs {missing}, which is not installed: "
              f"pip install 'sgcformat[{extra}]'", file=sys.stderr)
        return EXIT_ERROR
    except (SgcError, OSError, ValueError) as exc:
        print(f"sgc: error: {_message(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _warning_line(message, category, *_where) -> None:
    print(f"sgc: warning: {str(message).splitlines()[0]}", file=sys.stderr)


def _message(exc: Exception) -> str:
    """An error as one line."""
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename}"
    return (str(exc) or type(exc).__name__).splitlines()[0]


if __name__ == "__main__":
    sys.exit(main())
