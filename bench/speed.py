"""CPU speed of the format itself (issue 2 targets): encoding given labels, header parsing, previews.

    python bench/speed.py

Targets: maps + coding for one image given its labels ≤ 20 ms; parsing a file's header ≥ 10,000
files/s; preview of a 256×256 thumbnail ≤ 5 ms.
"""

from __future__ import annotations

import os
import statistics
import time

from _common import CORPUS, corpus_entries, markdown_table, write_result
from PIL import Image

import sgcformat
from sgcformat import codec
from sgcformat.coding import colors, labels
from sgcformat.container import parse
from sgcformat.preview_decoder import render_preview


def timed(fn, repeat: int) -> float:
    """Median seconds per call."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def coder_times(files: list[bytes], pure_python: bool) -> dict[str, float]:
    """Mean ms per file to decode both maps and to re-encode the label map, on one coder path."""
    saved = os.environ.get("SGC_PURE_PYTHON")
    os.environ["SGC_PURE_PYTHON"] = "1" if pure_python else ""
    try:
        parsed = [parse(d) for d in files]
        grids = [(s, s.label_map) for s in parsed]

        def decode_all():
            for s in parsed:
                w, h = s.label_size
                labels.decode(s.label_data, w, h, s.vocab)
                w, h = s.color_size
                colors.decode(s.color_data, w, h, s.color_quality)

        def encode_all():
            for s, grid in grids:
                labels.encode(grid, s.vocab)

        return {"decode both maps": 1e3 * timed(decode_all, 3) / len(files),
                "encode label map": 1e3 * timed(encode_all, 3) / len(files)}
    finally:
        if saved is None:
            del os.environ["SGC_PURE_PYTHON"]
        else:
            os.environ["SGC_PURE_PYTHON"] = saved


def main() -> None:
    entries = corpus_entries()
    encode_ms, parse_us, preview_ms, files = [], [], [], []
    for e in entries:
        image = codec.to_rgb(CORPUS / e["image"])
        with Image.open(CORPUS / e["label"]) as im:
            labels = im.copy()
        def encode(image=image, labels=labels, vocab=e["vocab"]):
            return sgcformat.encode(image, labels=labels, vocab=vocab)

        encode_ms.append(1e3 * timed(encode, 5))
        data = encode().to_bytes()
        files.append(data)
        parse_us.append(1e6 * timed(lambda d=data: parse(d), 200))
        sgc = parse(data)
        sgc.label_map, sgc.color_map  # noqa: B018 - time the painting, not the entropy decoding
        preview_ms.append(1e3 * timed(lambda s=sgc: render_preview(s, (256, 256)), 20))

    def cold_preview():
        for d in files:
            render_preview(parse(d), (256, 256))

    cold_ms = 1e3 * timed(cold_preview, 3) / len(files)
    coder_ms = {name: coder_times(files, pure) for name, pure in (("native", False), ("pure Python", True))}
    rows = [
        ["encode given labels (maps + coding), ms/image", statistics.mean(encode_ms), max(encode_ms), "≤ 20"],
        ["parse header, files/s", 1e6 / statistics.mean(parse_us), 1e6 / max(parse_us), "≥ 10,000"],
        ["preview 256×256 from decoded maps, ms", statistics.mean(preview_ms), max(preview_ms), "≤ 5"],
        ["preview 256×256 incl. parse + map decoding, ms", cold_ms, "", ""],
    ]
    for what in ("decode both maps", "encode label map"):
        native, python = coder_ms["native"][what], coder_ms["pure Python"][what]
        rows.append([f"{what}, ms/file: native / pure Python (×{python / native:.0f})",
                     f"{native:.3f} / {python:.2f}", "", ""])
    body = (f"{len(entries)} corpus images with labels (all vocabularies), default settings.\n\n"
            + markdown_table(["measure", "mean", "worst", "target"], rows))
    write_result("speed", "Format speed on CPU", body, {"rows": rows})


if __name__ == "__main__":
    main()
