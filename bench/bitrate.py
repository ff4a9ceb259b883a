"""Bitrate benchmark of the map coders on the shared corpus (issues 2 and 10).

Per image: label map at 32×32 (our coder; zlib-9, PNG, WebP lossless and JPEG XL lossless of
the same map, with and without their container headers; the same binary decisions coded with
constriction's range coder), colour map at the default grid and quality in bitstream versions 1
and 2 (bytes, PSNR against an independently computed area average), whole file at default
settings (version 3, next to version 2 and to version 3 without transposed label maps, so each
change's saving shows), and the time of maps + coding given the labels.

The trained tables (label match/rank contexts, version-2 colour priors) are evaluated
cross-validated: every labelled image is also coded with tables trained without it (leave one
image out) and without its dataset (leave one dataset out), next to tables trained on every
image. Prints the tables and writes ``bench/results/bitrate.md`` and ``bitrate.json``.

    python bench/bitrate.py [--corpus ../shared/corpus] [--out bench/results] [--no-cv]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import io
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image

from sgcformat import codec, maps, registry
from sgcformat.coding import colors, labels, rangecoder, stream
from sgcformat.container import build, grid_size

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import train_color_tables
import train_label_tables

TARGET_SETS = ("coco-stuff-182", "ade20k-150")
OTHER_SETS = ("cityscapes-34", "camvid-11", "loveda-7")
#: Table sets of the cross-validation: as shipped, trained on every labelled image, without the
#: image coded, without its dataset.
FOLDS = ("shipped", "all", "loo", "lodo")
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


def webp_bytes(ids: np.ndarray) -> tuple[int, int]:
    """WebP lossless (method 6) of the map as a grey image: (file, VP8L bitstream) bytes."""
    buf = io.BytesIO()
    Image.fromarray(ids.astype(np.uint8)).save(buf, format="WEBP", lossless=True, quality=100, method=6)
    data = buf.getvalue()
    pos = 12  # RIFF header; then chunks of (fourcc, size, payload padded to even)
    while pos < len(data):
        size = int.from_bytes(data[pos + 4: pos + 8], "little")
        if data[pos: pos + 4] == b"VP8L":
            return len(data), size
        pos += 8 + size + (size & 1)
    raise ValueError("no VP8L chunk")


def jxl_bytes(ids: np.ndarray) -> tuple[int | None, int | None, str]:
    """JPEG XL lossless, effort 9, palette: (with ISOBMFF container, bare codestream) bytes and
    the encoder (cjxl where installed, forced palette; else pillow-jxl-plugin, libjxl's choice)."""
    image = Image.fromarray(ids.astype(np.uint8))
    if shutil.which("cjxl"):
        sizes = []
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "map.png"
            image.save(src)
            for container in (1, 0):
                out = Path(tmp) / f"map{container}.jxl"
                subprocess.run(["cjxl", str(src), str(out), "-d", "0", "-e", "9", "--quiet",
                                "--modular_palette_colors=256", f"--container={container}"],
                               check=True, capture_output=True)
                sizes.append(out.stat().st_size)
        return sizes[0], sizes[1], "cjxl"
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL format)
    except ImportError:
        return None, None, "none"
    sizes = []
    for container in (True, False):
        buf = io.BytesIO()
        image.save(buf, format="JXL", lossless=True, effort=9, use_container=container)
        sizes.append(buf.tell())
    return sizes[0], sizes[1], "pillow-jxl-plugin"


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
    ref = reference_color_map(rgb, *color_size)
    row.update(color_size=list(color_size), color_psnr_unquantised=psnr(cmap, ref))
    lmap = None
    if entry["label"] is not None:
        vocab = registry.vocabulary(entry["vocab"])
        label_png = Image.open(corpus / entry["label"])
        ids = vocab.labels_from_png(np.asarray(label_png))
        label_size = grid_size(maps.default_long_side(w, h, maps.DEFAULT_LABEL_CELLS), w, h)
        lmap = maps.label_map(ids, label_size)
    for version in (1, 2) if lmap is not None else (1,):
        cdata = colors.encode(cmap, colors.DEFAULT_QUALITY, version=version, labels=lmap)
        decoded = colors.decode(cdata, *color_size, colors.DEFAULT_QUALITY, version=version, labels=lmap)
        row[f"color_bytes_v{version}"] = len(cdata)
        row[f"color_psnr_v{version}"] = psnr(decoded, ref)
    # What a file of this image holds: version 2 where there is a label map.
    row["color_bytes"] = row.get("color_bytes_v2", row["color_bytes_v1"])
    row["color_psnr"] = row.get("color_psnr_v2", row["color_psnr_v1"])
    if lmap is None:
        return row

    square = maps.label_map(ids, (32, 32))
    ldata = labels.encode(square, vocab.name)
    assert np.array_equal(labels.decode(ldata, 32, 32, vocab.name), square)
    webp, webp_bitstream = webp_bytes(square)
    jxl, jxl_codestream, jxl_encoder = jxl_bytes(square)
    row.update(
        classes=len(np.unique(square)), label_bytes=len(ldata),
        label_zlib=len(zlib.compress(square.astype(np.uint8).tobytes(), 9)),
        label_png=png_bytes(square), label_constriction=constriction_bytes(square, vocab.name),
        label_webp=webp, label_webp_bitstream=webp_bitstream, label_jxl=jxl,
        label_jxl_codestream=jxl_codestream, jxl_encoder=jxl_encoder,
    )

    sgc = codec.encode(rgb, labels=label_png, vocab=vocab.name)
    file_bytes = len(sgc.to_bytes())
    v2 = codec.encode(rgb, labels=label_png, vocab=vocab.name, version=2)
    row.update(file_bytes=file_bytes, file_version=sgc.version, map_bytes=len(sgc.map_data),
               overhead=file_bytes - len(sgc.map_data), file_v2_bytes=len(v2.to_bytes()),
               overhead_v2=len(v2.to_bytes()) - len(v2.label_data) - len(v2.color_data),
               maps_v2_bytes=len(v2.label_data) + len(v2.color_data),
               map_bytes_untransposed=untransposed_stream_bytes(lmap, vocab.name, cmap, sgc.color_quality),
               bpp=8 * file_bytes / (w * h), bpp_512=8 * file_bytes / 512**2)
    assert np.array_equal(sgc.label_map, lmap) and np.array_equal(sgc.color_map, decoded)
    row["_file"], row["_maps"] = sgc, (cmap, lmap)  # for the cross-validation, not written

    times = []
    for _ in range(5):
        start = time.perf_counter()
        grid = maps.label_map(ids, label_size)
        labels.encode(grid, vocab.name)
        colors.encode(maps.color_map(rgb, color_size), colors.DEFAULT_QUALITY, version=2, labels=grid)
        times.append(time.perf_counter() - start)
    row["maps_coding_ms"] = 1000 * min(times)
    return row


def untransposed_stream_bytes(lmap: np.ndarray, vocab: str, cmap: np.ndarray, quality: int) -> int:
    """Version 3's stream with the label map never coded transposed (the transpose bit still
    costs its place): what the transposition saves. The reference coder, as only it can be told."""
    def never_transposed(_version: int, several_classes: bool) -> list:
        return [(False, False), (True, False)] if several_classes else [(False, None)]

    with (mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1"}),
          mock.patch.object(labels, "_orientations", never_transposed)):
        return len(stream.encode(lmap, vocab, cmap, quality))


def cross_validate(rows: list[dict], corpus: Path) -> None:
    """Add ``cv_<fold>_{label,color,file}`` to every labelled row: the file coded with tables
    trained on every image, without the image, without its dataset (and as shipped)."""
    pairs = [r for r in rows if "_file" in r]
    entries = {e["image"]: e for e in json.loads((corpus / "manifest.json").read_text())}
    sizes = [24, 32, 40, 48, 56, 64]  # the label tables' training recipe (train_label_tables.py)
    label_counts, color_counts = [], []
    for r in pairs:
        entry = entries[r["image"]]
        label_counts.append(train_label_tables.count(
            train_label_tables.load_maps(corpus, [entry["vocab"]], sizes, True, only=entry["image"])))
        color_counts.append(train_color_tables.count(*r["_maps"]))
    for i, r in enumerate(pairs):
        sgc = r["_file"]
        keep = {"all": range(len(pairs)), "loo": [j for j in range(len(pairs)) if j != i],
                "lodo": [j for j in range(len(pairs)) if pairs[j]["vocab"] != r["vocab"]]}
        cmap, lmap = r["_maps"]  # the file's maps (measure() checked)
        key = sgc.vocabulary.label_coder_key
        for fold in FOLDS:
            if fold == "shipped":
                label_tables, priors = None, None
            else:
                label_tables = train_label_tables.tables([label_counts[j] for j in keep[fold]])
                priors = train_color_tables.priors([color_counts[j] for j in keep[fold]])
            shipped = contextlib.nullcontext()
            with (shipped if label_tables is None else train_label_tables.applied(*label_tables),
                  shipped if priors is None else train_color_tables.applied(priors)):
                label_data = labels.encode(lmap, key)
                color_data = colors.encode(cmap, sgc.color_quality, version=2, labels=lmap)
                map_data = stream.encode(lmap, key, cmap, sgc.color_quality)
            file_bytes = len(build(dataclasses.replace(sgc, map_data=map_data)))
            r.update({f"cv_{fold}_label": len(label_data), f"cv_{fold}_color": len(color_data),
                      f"cv_{fold}_file": file_bytes})


def _mean(rows: list[dict], key: str, vocabs=None) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None and (vocabs is None or r["vocab"] in vocabs)]
    return float(np.mean(vals)) if vals else None


def report(rows: list[dict]) -> tuple[str, dict]:
    fmt = lambda v, d=1: "" if v is None else f"{v:.{d}f}"  # noqa: E731
    jxl_encoder = next((r["jxl_encoder"] for r in rows if r.get("jxl_encoder")), "none")
    lines = [
        "# Map coding bitrate (bench/bitrate.py)",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        f"- colour quality: {colors.DEFAULT_QUALITY} (steps {colors.STEPS[colors.DEFAULT_QUALITY]})",
        "- label columns: the same 32×32 map coded by our coder, zlib -9, PNG (optimize), WebP lossless"
        " (method 6; file / VP8L bitstream without the RIFF headers), JPEG XL lossless (effort 9,"
        f" palette; ISOBMFF container / bare codestream; encoder: {jxl_encoder}), and constriction's"
        " range coder fed our exact binary decisions and probabilities (32-bit words).",
        "- colour: version 1 (no label map) and version 2 (given the file's label map, spec §6) at the"
        " default grid; PSNR: decoded colour map vs the float area average over each cell. Kodak has no"
        " label maps: version 1 only.",
        "- file: `sgcformat.encode` at default settings (version 3); overhead = container bytes (all"
        " but the map stream); version 2 of the same settings beside it.",
        "- time: label map + colour map extraction and coding given the labels (best of 5).",
        "",
        "| image | vocab | classes | label B | zlib B | PNG B | WebP B (bitstream) | JXL B (codestream)"
        " | colour grid | colour v1 B | colour v2 B | PSNR v1 | PSNR v2 | file B | bpp@512² | ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {Path(r['image']).stem} | {r['vocab'] or 'kodak'} | {r.get('classes', '')} "
            f"| {r.get('label_bytes', '')} | {r.get('label_zlib', '')} | {r.get('label_png', '')} "
            f"| {r.get('label_webp', '')} ({r.get('label_webp_bitstream', '')}) "
            f"| {r.get('label_jxl') or ''} ({r.get('label_jxl_codestream') or ''}) "
            f"| {r['color_size'][0]}×{r['color_size'][1]} | {r['color_bytes_v1']} "
            f"| {r.get('color_bytes_v2', '')} "
            f"| {r['color_psnr_v1']:.2f} | {fmt(r.get('color_psnr_v2'), 2)} | {r.get('file_bytes', '')} "
            f"| {fmt(r.get('bpp_512'), 4)} | {fmt(r.get('maps_coding_ms'))} |"
        )
    summary = {}
    groups = [("coco+ade", TARGET_SETS)] + [(v, (v,)) for v in TARGET_SETS + OTHER_SETS] + [
        ("other vocabularies", OTHER_SETS), ("kodak (colour only)", (None,))]
    keys = ("label_bytes", "label_zlib", "label_png", "label_webp", "label_webp_bitstream", "label_jxl",
            "label_jxl_codestream", "label_constriction", "color_bytes_v1", "color_bytes_v2",
            "color_psnr_v1", "color_psnr_v2", "color_bytes", "color_psnr", "file_bytes",
            "map_bytes", "overhead", "file_v2_bytes", "overhead_v2", "maps_v2_bytes",
            "map_bytes_untransposed", "bpp_512", "maps_coding_ms",
            *(f"cv_{fold}_{part}" for fold in FOLDS for part in ("label", "color", "file")))
    for name, vocabs in [*groups, ("all (colour)", None)]:
        n = sum(1 for r in rows if vocabs is None or r["vocab"] in vocabs)
        summary[name] = {"n": n, **{k: _mean(rows, k, vocabs) for k in keys}}
    lines += ["", "## Aggregate (means)", "",
              "| set | n | label B | zlib B | PNG B | WebP B | WebP bitstream B | JXL B | JXL codestream B"
              " | constriction B | colour v1 B | colour v2 B | PSNR v1 | PSNR v2 | file B | overhead B"
              " | bpp@512² | ms |", "|---|" * 1 + "---|" * 17]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['n']} | {fmt(s['label_bytes'])} | {fmt(s['label_zlib'])} | {fmt(s['label_png'])}"
            f" | {fmt(s['label_webp'])} | {fmt(s['label_webp_bitstream'])} | {fmt(s['label_jxl'])}"
            f" | {fmt(s['label_jxl_codestream'])} | {fmt(s['label_constriction'])}"
            f" | {fmt(s['color_bytes_v1'])} | {fmt(s['color_bytes_v2'])} | {fmt(s['color_psnr_v1'], 2)}"
            f" | {fmt(s['color_psnr_v2'], 2)} | {fmt(s['file_bytes'])} | {fmt(s['overhead'])}"
            f" | {fmt(s['bpp_512'], 4)} | {fmt(s['maps_coding_ms'])} |"
        )
    lines += ["", "## Version 3 against version 2 (means, bytes, tables as shipped)", "",
              "| set | n | v2 file | v2 container | v3 container | v2 label + colour"
              " | v3 stream, not transposed | v3 stream | v3 file |", "|---|---|---|---|---|---|---|---|---|"]
    for name, s in summary.items():
        if s["file_v2_bytes"] is None:
            continue
        lines.append(f"| {name} | {s['n']} | {fmt(s['file_v2_bytes'])} | {fmt(s['overhead_v2'])}"
                     f" | {fmt(s['overhead'])} | {fmt(s['maps_v2_bytes'])}"
                     f" | {fmt(s['map_bytes_untransposed'])}"
                     f" | {fmt(s['map_bytes'])} | **{fmt(s['file_bytes'])}** |")
    lines += ["", "## Cross-validated whole file (means, bytes)", "",
              "Label tables and version-2 colour priors retrained per fold with the scripts' own recipes"
              " (`scripts/train_label_tables.py`, `scripts/train_color_tables.py`); label bitstream"
              " (versions 1-2) / colour bitstream (version 2) / version 3 file.",
              "", "| set | n | shipped tables | trained on all | leave one image out | leave dataset out |",
              "|---|---|---|---|---|---|"]
    for name, s in summary.items():
        if s["cv_loo_file"] is None:
            continue
        cells = [f"{fmt(s[f'cv_{f}_label'])} / {fmt(s[f'cv_{f}_color'])} / **{fmt(s[f'cv_{f}_file'])}**"
                 for f in FOLDS]
        lines.append(f"| {name} | {s['n']} | " + " | ".join(cells) + " |")
    t, a = summary["coco+ade"], summary["all (colour)"]
    cv = max(t["cv_loo_file"] or 0, t["cv_lodo_file"] or 0) or None
    lines += [
        "", "## Targets", "",
        f"- issue 10: whole file, coco+ade mean ≤ 150 B, cross-validated:"
        f" **{fmt(t['cv_loo_file'])} B** (leave one image out),"
        f" **{fmt(t['cv_lodo_file'])} B** (leave dataset out); as shipped"
        f" {fmt(t['file_bytes'])} B, trained on all {fmt(t['cv_all_file'])} B"
        f" ({'met' if cv is not None and cv <= 150 else 'not met'})",
        f"- issue 10: colour fidelity unchanged: PSNR of what files hold, all images "
        f"**{fmt(a['color_psnr'], 2)} dB** (≥ 30.4); coco+ade {fmt(t['color_psnr_v1'], 2)} dB (v1) →"
        f" {fmt(t['color_psnr_v2'], 2)} dB (v2)",
        f"- label map 32×32, coco+ade: ours {fmt(t['label_bytes'])} B; WebP lossless {fmt(t['label_webp'])} B"
        f" ({fmt(t['label_webp_bitstream'])} B bitstream); JPEG XL lossless {fmt(t['label_jxl'])} B"
        f" ({fmt(t['label_jxl_codestream'])} B codestream)",
        f"- issue 2: container overhead ≤ 16 B: **{fmt(t['overhead'])} B** (mean; version 2:"
        f" {fmt(t['overhead_v2'])} B)",
        f"- maps + coding given labels: **{fmt(t['maps_coding_ms'])} ms** (mean over coco+ade; bench/speed.py"
        " has the same-run ratios)",
    ]
    return "\n".join(lines) + "\n", summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--no-cv", dest="cv", action="store_false", help="skip the cross-validation")
    args = parser.parse_args()
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    rows = [measure(args.corpus, entry) for entry in manifest]
    if args.cv:
        cross_validate(rows, args.corpus)
    for r in rows:
        r.pop("_file", None)
        r.pop("_maps", None)
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
