"""``sgc-thumbnailer -s SIZE INPUT OUTPUT``: the freedesktop thumbnailer for ``.sgc``.

File managers (GNOME Files, Nemo, Caja, Thunar through tumbler) run it as the
``Exec`` line of ``sgc.thumbnailer``. It draws the weight-free preview — no model,
no torch, no Qt — fitted into SIZE×SIZE, and writes a PNG atomically, so a file
manager never caches half a thumbnail. Errors are one line on stderr, exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

#: Largest thumbnail anyone asks for (freedesktop "xx-large" is 1024).
MAX_SIZE = 2048


def make_thumbnail(source: str | Path, target: str | Path, size: int) -> tuple[int, int]:
    """Write the preview of ``source`` fitted into ``size``×``size`` as PNG; returns its size."""
    from PIL import Image, PngImagePlugin

    import sgcformat.pil  # noqa: F401 - registers .sgc with Pillow
    from sgcformat.files import save_image_atomic

    source = Path(source)
    if source.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    with Image.open(source) as im:
        im.draft("RGB", (size, size))  # the weight-free preview, rendered near the target size
        im.thumbnail((size, size))
        info = PngImagePlugin.PngInfo()
        # Keys of the freedesktop thumbnail spec, so a cache can tell when it is stale.
        info.add_text("Thumb::URI", source.resolve().as_uri())
        info.add_text("Thumb::MTime", str(int(source.stat().st_mtime)))
        info.add_text("Software", "sgc-thumbnailer")
        save_image_atomic(im.convert("RGB"), target, format="PNG", pnginfo=info)
        return im.size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgc-thumbnailer",
                                     description="Write a PNG thumbnail of an .sgc file "
                                                 "(freedesktop thumbnailer; no model needed).")
    parser.add_argument("-s", "--size", type=int, default=256, metavar="SIZE",
                        help="fit the thumbnail into SIZE×SIZE pixels (default 256)")
    parser.add_argument("input", help="the .sgc file (a path or file:// URI)")
    parser.add_argument("output", help="where to write the PNG")
    args = parser.parse_args(argv)
    if not 1 <= args.size <= MAX_SIZE:
        parser.error(f"SIZE must be 1 … {MAX_SIZE}")
    source = args.input
    if source.startswith("file://"):
        from urllib.parse import unquote, urlparse

        source = unquote(urlparse(source).path)
    try:
        make_thumbnail(source, args.output, args.size)
    except Exception as exc:  # a file manager only needs to know that it failed, and why
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"sgc-thumbnailer: {Path(source).name}: {detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
