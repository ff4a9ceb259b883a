"""``sgc models``: list, fetch and convert the decoder and segmenter models; clear the decode cache.

Registered through the ``sgcformat.cli`` entry point; the core CLI turns
:class:`~sgcformat.errors.SgcError` / ``OSError`` into a one-line message and exit code.
"""

from __future__ import annotations

import argparse

from ..errors import ModelNotFoundError


def add_parser(subparsers) -> None:
    """Add ``models`` and its subcommands to the ``sgc`` parser."""
    parser = subparsers.add_parser("models", help="list, fetch and convert models")
    sub = parser.add_subparsers(dest="models_command", required=True)

    p = sub.add_parser("list", help="profiles, their components, and which are present locally")
    p.set_defaults(func=_list)

    p = sub.add_parser("pull", help="download a profile's components into the HF cache")
    p.add_argument("profile", help="profile name (see `sgc models list`)")
    p.add_argument("--no-fast", action="store_true", help="skip the optional few-step LoRA")
    p.add_argument("--no-segmenter", action="store_true", help="skip the segmenter")
    p.add_argument("--update", action="store_true",
                   help="re-resolve branch/ref revisions instead of keeping their locked commits")
    p.set_defaults(func=_pull)

    p = sub.add_parser("convert-ldm", help="convert the CompVis semantic-synthesis checkpoint")
    p.add_argument("checkpoint", help="semantic_synthesis.zip or model.ckpt")
    p.add_argument("outdir", nargs="?", help="output folder (default: the user model folder)")
    p.add_argument("--num-heads", type=int, default=8, help="attention heads of the mid block")
    p.add_argument("--image-size", type=int, default=512, help="training resolution of the model")
    p.add_argument("--no-ema", action="store_true",
                   help="use the raw UNet weights, even if (some) EMA ones exist")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow arbitrary objects in the checkpoint pickle (only for files you trust)")
    p.set_defaults(func=_convert)

    p = sub.add_parser("clear-cache", help="delete the decoded-image cache")
    p.set_defaults(func=_clear_cache)


def _list(args: argparse.Namespace) -> int:
    from . import cache, loading
    from .profiles import PROFILES

    for profile in PROFILES.values():
        print(f"{profile.name}  (vocabulary {profile.vocab}; {profile.steps} steps, "
              f"strength {profile.strength}, guidance {profile.guidance_scale})")
        for role, component in _roles(profile):
            folder = loading.local_folder(component)
            if folder is not None:
                state = f"local: {folder}"
            elif loading.is_available(component):
                state = "in HF cache"
            else:
                state = f"missing ({profile.fetch_command(component)})"
            print(f"  {role:<10} {component.name:<24} {_pin(component, loading)}\n  {'':<10} {state}")
    count, size = cache.usage()
    print(f"decode cache: {cache.cache_dir()} ({count} images, {size / 1e6:.1f} MB)")
    return 0


def _pin(component, loading) -> str:
    """Where ``component`` comes from and the exact commit it loads."""
    if component.repo is None:
        return component.source
    if component.pinned:
        return f"{component.repo} commit {component.revision} (pinned)"
    commit = loading.locked_commit(component)
    if commit is not None:
        return f"{component.repo} commit {commit} ({component.revision}, locked at pull)"
    return f"{component.repo} {component.revision} (commit resolved and locked by `sgc models pull`)"


def _roles(profile):
    yield from (("decoder", c) for c in profile.decoder)
    yield "segmenter", profile.segmenter
    if profile.fast is not None:
        yield "fast", profile.fast


def _pull(args: argparse.Namespace) -> int:
    from . import loading
    from .profiles import model_profile

    try:
        profile = model_profile(args.profile)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    skip = {"fast"} if args.no_fast else set()
    if args.no_segmenter:
        skip.add("segmenter")
    for role, component in _roles(profile):
        if role in skip:
            continue
        if component.repo is None:
            if loading.local_folder(component) is None:
                print(f"{component.name}: not on the hub; {profile.fetch_command(component)}")
            continue
        print(f"{component.name}: {component.source}")
        try:
            folder = loading.pull(component, update=args.update)
        except Exception as exc:
            raise ModelNotFoundError(
                f"cannot download {component.name} ({component.source}): {_first_line(exc)}"
            ) from exc
        commit = loading.locked_commit(component)
        print(f"  -> {folder} (commit {commit})")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from .convert_ldm import convert
    from .loading import user_model_dir
    from .profiles import LDM

    outdir = args.outdir or user_model_dir() / LDM.name
    folder = convert(args.checkpoint, outdir, num_heads=args.num_heads, image_size=args.image_size,
                     use_ema=not args.no_ema, trust_pickle=args.trust_pickle)
    print(f"converted to {folder}")
    if args.outdir:
        print(f"point the profile at it: SGC_MODEL_DIR={folder.parent} (the folder must be named "
              f"{LDM.name}), or \"paths\": {{\"{LDM.name}\": \"{folder}\"}} in the models config")
    return 0


def _clear_cache(args: argparse.Namespace) -> int:
    from . import cache

    print(f"removed {cache.clear()} cached images from {cache.cache_dir()}")
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
