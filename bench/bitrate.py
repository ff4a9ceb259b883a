"""Bitrate benchmark of the map coders on the shared corpus (issue 2 targets).

Per image: label map at 32×32 (our coder, zlib-9 and PNG of the same map, and the
same binary decisions coded with constriction's range coder where installed),
colour map at the default grid and quality (bytes, PSNR against an independently
computed area average), whole file at default settings, and the time of maps +
coding given the labels. Prints a table and writes ``bench/results/bitrate.md``
and ``bitrate.json``.

    python bench/bitrate.py [--corpus ../shared/corpus] [--out bench/results]
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import platform
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from sgcformat import codec, maps, registry
from sgcformat.coding import colors, labels, rangecoder
from sgcformat.container import grid_size

TARGET_SETS = ("coco-stuff-182", "ade20k-150")
ROOT = Path(__file__).resolve().parent.parent


def reference_color_map(rgb: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """Area average over each cell in float, written independently of sgcformat.maps.

    Each cell spans [i·H/rows, (i+1)·H/rows) × [j·W/cols, (j+1)·W/cols); boundary
    pixels count with the fraction of their area inside the cell.
    """
    h, w = rgb.shape[:2]
    out = np.zeros((rows, cols, 3))
    img = rgb.astype(np.float64)
    for i in range(rows):
        y0, y1 = i * h / rows, (i + 1) * h / rows
        ys = np.arange(int(y0), int(np.ceil(y1)))
        wy = np.minimum(ys + 1, y1) - np.maximum(ys, y0)
        for j in range(cols):
            x0, x1 = j * w / cols, (j + 1) * w / cols
            xs = np.arange(int(x0), int(np.ceil(x1)))
            wx = np.minimum(xs + 1, x1) - np.maximum(xs, x0)
            block = img[ys[0]: ys[-1] + 1, xs[0]: xs[-1] + 1]
            out[i, j] = np.einsum("y,x,yxc->c", wy, wx, block) / (wy.sum() * wx.sum())
    return out


def psnr(a: np.ndarray, ref: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - ref) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def png_bytes(ids: np.ndarray) -> int:
    buf = io.BytesIO()
    mode = "L" if ids.max() < 256 else "I;16"
    Image.fromarray(ids.astype(np.uint8 if mode == "L" else np.uint16)).save(
        buf, format="PNG", optimize=True)
    return buf.tell()


class _Recorder(rangecoder.Encoder):
    """Encoder that also records each decision's probability, to re-code it elsewhere."""

    __slots__ = ("decisions",)

    def __init__(self) -> None:
        super().__init__()
        self.decisions: list[tuple[int, int]] = []

    def bit(self, probs, i, bit):
        self.decisions.append((probs[2 * i], int(bit)))
        super().bit(probs, i, bit)

    def fixed(self, p0, bit):
        self.decisions.append((p0, int(bit)))
        super().fixed(p0, bit)

    def bit_mean(self, probs, indices, bit):
        self.decisions.append((sum(probs[2 * i] for i in indices) // len(indices), int(bit)))
        super().bit_mean(probs, indices, bit)


def constriction_bytes(ids: np.ndarray, vocab: str) -> int | None:
    """Bytes constriction's range coder needs for our exact decisions and probabilities.

    Like our encoder, it keeps the shorter of the map and its mirror image.
    """
    try:
        import constriction
    except ImportError:
        return None
    sizes = []
    for mirror in (False, True)[:1 + (ids.min() != ids.max())]:
        recorder = _Recorder()
        original = labels.Encoder
        labels.Encoder = _Recorder  # the coder checks isinstance(coder, Encoder)
        try:
            labels.code_map(recorder, ids, vocab, mirror)
        finally:
            labels.Encoder = original
        if not recorder.decisions:
            return 0
        p0 = np.array([d[0] for d in recorder.decisions], dtype=np.float64) / rangecoder.PROB_ONE
        bits = np.array([d[1] for d in recorder.decisions], dtype=np.int32)
        enc = constriction.stream.queue.RangeEncoder()
        enc.encode(bits, constriction.stream.model.Categorical(perfect=False),
                   np.stack([p0, 1 - p0], axis=1))
        sizes.append(4 * len(enc.get_compressed()))
    return min(sizes)


def measure(corpus: Path, entry: dict) -> dict:
    rgb = np.asarray(Image.open(corpus / entry["image"]).convert("RGB"))
    h, w = rgb.shape[:2]
    row: dict = {"image": entry["image"], "vocab": entry["vocab"], "size": [w, h]}
    color_size = grid_size(maps.default_long_side(w, h, maps.DEFAULT_COLOR_CELLS), w, h)
    cmap = maps.color_map(rgb, color_size)
    cdata = colors.encode(cmap, colors.DEFAULT_QUALITY)
    decoded = colors.decode(cdata, *color_size, colors.DEFAULT_QUALITY)
    ref = reference_color_map(rgb, *color_size)
    row.update(color_size=list(color_size), color_bytes=len(cdata), color_psnr=psnr(decoded, ref),
               color_psnr_unquantised=psnr(cmap, ref))
    if entry["label"] is None:
        return row

    vocab = registry.vocabulary(entry["vocab"])
    label_png = Image.open(corpus / entry["label"])
    ids = vocab.labels_from_png(np.asarray(label_png))
    lmap = maps.label_map(ids, (32, 32))
    ldata = labels.encode(lmap, vocab.name)
    assert np.array_equal(labels.decode(ldata, 32, 32, vocab.name), lmap)
    row.update(
        classes=len(np.unique(lmap)), label_bytes=len(ldata),
        label_zlib=len(zlib.compress(lmap.astype(np.uint8).tobytes(), 9)),
        label_png=png_bytes(lmap), label_constriction=constriction_bytes(lmap, vocab.name),
    )

    sgc = codec.encode(rgb, labels=label_png, vocab=vocab.name)
    file_bytes = len(sgc.to_bytes())
    row.update(file_bytes=file_bytes, file_label_size=list(sgc.label_size),
               overhead=file_bytes - len(sgc.label_data) - len(sgc.color_data),
               bpp=8 * file_bytes / (w * h), bpp_512=8 * file_bytes / 512**2)

    label_size = grid_size(maps.default_long_side(w, h, maps.DEFAULT_LABEL_CELLS), w, h)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        labels.encode(maps.label_map(ids, label_size), vocab.name)
        colors.encode(maps.color_map(rgb, color_size), colors.DEFAULT_QUALITY)
        times.append(time.perf_counter() - start)
    row["maps_coding_ms"] = 1000 * min(times)
    return row


def _mean(rows: list[dict], key: str, vocabs=None) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None and (vocabs is None or r["vocab"] in vocabs)]
    return float(np.mean(vals)) if vals else None


def report(rows: list[dict]) -> tuple[str, dict]:
    fmt = lambda v, d=1: "" if v is None else f"{v:.{d}f}"  # noqa: E731
    lines = [
        "# Map coding bitrate (bench/bitrate.py)",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        f"- colour quality: {colors.DEFAULT_QUALITY} (steps {colors.STEPS[colors.DEFAULT_QUALITY]})",
        "- label columns: our coder, zlib -9 and PNG (optimize) of the same 32×32 map, and constriction's"
        " range coder fed our exact binary decisions and probabilities (32-bit words).",
        "- PSNR: decoded colour map vs the float area average over each cell of the default grid.",
        "- time: label map + colour map extraction and coding given the labels (best of 5).",
        "",
        "| image | vocab | classes | label B | zlib B | PNG B | constriction B | colour grid | colour B"
        " | PSNR dB | file B | bpp | bpp@512² | ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {Path(r['image']).stem} | {r['vocab'] or 'kodak'} | {r.get('classes', '')} "
            f"| {r.get('label_bytes', '')} | {r.get('label_zlib', '')} | {r.get('label_png', '')} "
            f"| {r.get('label_constriction') or ''} | {r['color_size'][0]}×{r['color_size'][1]} "
            f"| {r['color_bytes']} | {r['color_psnr']:.2f} | {r.get('file_bytes', '')} "
            f"| {fmt(r.get('bpp'), 4)} | {fmt(r.get('bpp_512'), 4)} | {fmt(r.get('maps_coding_ms'))} |"
        )
    summary = {}
    groups = [("coco+ade", TARGET_SETS)] + [
        (v, (v,)) for v in ("coco-stuff-182", "ade20k-150", "cityscapes-34", "camvid-11", "loveda-7")
    ] + [("kodak (colour only)", (None,))]
    lines += ["", "## Aggregate (means)", "",
              "| set | n | label B | zlib B | PNG B | constriction B | colour B | PSNR dB | file B"
              " | overhead B | bpp@512² | ms |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, vocabs in [*groups, ("all (colour)", None)]:
        n = sum(1 for r in rows if vocabs is None or r["vocab"] in vocabs)
        s = {k: _mean(rows, k, vocabs) for k in (
            "label_bytes", "label_zlib", "label_png", "label_constriction", "color_bytes",
            "color_psnr", "file_bytes", "overhead", "bpp_512", "maps_coding_ms")}
        summary[name] = {"n": n, **s}
        lines.append(
            f"| {name} | {n} | {fmt(s['label_bytes'])} | {fmt(s['label_zlib'])} | {fmt(s['label_png'])}"
            f" | {fmt(s['label_constriction'])} | {fmt(s['color_bytes'])} | {fmt(s['color_psnr'], 2)}"
            f" | {fmt(s['file_bytes'])} | {fmt(s['overhead'])} | {fmt(s['bpp_512'], 4)}"
            f" | {fmt(s['maps_coding_ms'])} |"
        )
    t = summary["coco+ade"]
    lines += [
        "", "## Targets (issue 2)", "",
        f"- label map 32×32, coco+ade mean ≤ 55 B: **{t['label_bytes']:.1f} B**",
        f"- colour map PSNR at default quality, all images ≥ 30 dB: "
        f"**{summary['all (colour)']['color_psnr']:.2f} dB**",
        f"- whole file, coco+ade mean ≤ 180 B: **{t['file_bytes']:.1f} B**",
        f"- container overhead ≤ 16 B: **{t['overhead']:.1f} B** (mean)",
        f"- maps + coding ≤ 20 ms: **{t['maps_coding_ms']:.1f} ms** (mean over labelled images)",
    ]
    return "\n".join(lines) + "\n", summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    rows = [measure(args.corpus, entry) for entry in manifest]
    text, summary = report(rows)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bitrate.md").write_text(text)
    meta = {"date": datetime.date.today().isoformat(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "color_quality": colors.DEFAULT_QUALITY}
    (args.out / "bitrate.json").write_text(
        json.dumps({"meta": meta, "summary": summary, "images": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
