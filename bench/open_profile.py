"""Where the time of opening an .sgc goes, against PNG in the same run (issue 10 target 1).

    python bench/open_profile.py [--files 1000]

Rows, each over the same 1,000 files (best of 3 passes, interleaved): ``Image.open(p).size``
for SGC and for the same photos saved as PNG; the same call for a plugin that reads nothing
(Pillow's own cost of an open: file open, prefix, ``_accept``, the ImageFile, closing); each
Pillow plugin's own ``_open`` on an open file; then the SGC reader's stages alone —
``read_limited(fp)`` (the plugin's one read),
``sgcformat.read(path)`` (read + full validation incl. CRC), ``parse(bytes)``, and the construct
grammar's own parse of the same bytes (what the reader used before spec 1.1).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import CORPUS, corpus_entries, markdown_table, write_result
from PIL import Image, ImageFile, PngImagePlugin

import sgcformat
import sgcformat.pil  # registers the format
from sgcformat import container, grammar
from sgcformat.pil import SgcImageFile


class NullImageFile(ImageFile.ImageFile):
    """A format whose ``_open`` reads nothing: what ``Image.open`` costs without a plugin's work."""

    format = "SGC-BENCH-NULL"

    def _open(self) -> None:
        self._size = (1, 1)
        self._mode = "RGB"


NULL_SIGNATURE = b"NULL-BENCH\n"


def build_folders(root: Path, count: int) -> tuple[list[Path], list[Path]]:
    sgc_files, png_files, sources = [], [], []
    for e in corpus_entries():
        with Image.open(CORPUS / e["label"]) as labels:
            sgc = sgcformat.encode(CORPUS / e["image"], labels=labels.copy(), vocab=e["vocab"],
                                   profile="preview")
        with Image.open(CORPUS / e["image"]) as im:
            sources.append((sgc, im.convert("RGB")))
    for i, (_sgc, photo) in enumerate(sources):
        png = root / f"{i:04d}.png"
        photo.save(png)
        png_files.append(png)
    for i in range(count):
        path = root / f"{i:04d}.sgc"
        sgcformat.write(path, sources[i % len(sources)][0].with_seed(i))
        sgc_files.append(path)
    return sgc_files, [png_files[i % len(png_files)] for i in range(count)]


def null_files(root: Path, count: int) -> list[Path]:
    """``count`` files of the null format (registered last, so SGC and PNG are tried before it)."""
    Image.register_open(NullImageFile.format, NullImageFile, lambda prefix: prefix.startswith(NULL_SIGNATURE))
    Image.register_extension(NullImageFile.format, ".sgcnull")
    paths = [root / f"{i:04d}.sgcnull" for i in range(count)]
    for path in paths:
        path.write_bytes(NULL_SIGNATURE + bytes(139))  # 150 bytes, as an .sgc file
    return paths


def best_rate(actions: dict, rounds: int = 3) -> dict[str, float]:
    """files/s per action, best of ``rounds`` passes, the actions interleaved within each pass."""
    best = dict.fromkeys(actions, 0.0)
    for _ in range(rounds):
        for name, (action, items) in actions.items():
            start = time.perf_counter()
            for item in items:
                action(item)
            best[name] = max(best[name], len(items) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sgc_files, png_files = build_folders(Path(tmp), args.files)
        nulls = null_files(Path(tmp), args.files)
        blobs = [p.read_bytes() for p in sgc_files]
        bodies = [b[4:-2] for b in blobs]
        sgc_fps = [open(p, "rb") for p in sgc_files]  # noqa: SIM115 - closed below
        png_fps = [open(p, "rb") for p in png_files]  # noqa: SIM115

        def plugin(cls):
            def construct(fp):
                fp.seek(0)
                cls(fp)
            return construct

        def read_from_start(fp):
            fp.seek(0)
            container.read_limited(fp)

        rates = best_rate({
            "PNG: Image.open(p).size": (lambda p: Image.open(p).size, png_files),
            "SGC: Image.open(p).size": (lambda p: Image.open(p).size, sgc_files),
            "null plugin: Image.open(p).size (Pillow's own cost)": (lambda p: Image.open(p).size, nulls),
            "PNG: PngImageFile(fp) (plugin only, file open)": (plugin(PngImagePlugin.PngImageFile), png_fps),
            "SGC: SgcImageFile(fp) (plugin only, file open)": (plugin(SgcImageFile), sgc_fps),
            "SGC: read_limited(fp) (the plugin's read)": (read_from_start, sgc_fps),
            "SGC: sgcformat.read(path)": (container.read, sgc_files),
            "SGC: container.parse(bytes)": (container.parse, blobs),
            "SGC: construct BodyV3.parse(bytes) (the grammar, as the 1.0 reader parsed)": (
                grammar.BodyV3.parse, bodies),
        })
        for fp in (*sgc_fps, *png_fps):
            fp.close()
    png = rates["PNG: Image.open(p).size"]
    rows = [[name, round(rate), f"{rate / png:.2f}×", f"{1e6 / rate:.1f}"] for name, rate in rates.items()]
    table = markdown_table(["loop over files (best of 3, interleaved)", "files/s", "vs PNG open",
                            "µs per file"], rows)
    body = (f"{args.files} files each; PNG = the same corpus photos saved as PNG.\n\n{table}\n\n"
            "`read`/`parse` include full validation: CRC-16 over the whole file, every header field, "
            "every known chunk payload.")
    write_result("open_profile", "Opening .sgc files: stages vs PNG (same run)", body,
                 {"files": args.files, "rates": rates})


if __name__ == "__main__":
    main()
