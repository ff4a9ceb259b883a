"""The evaluation report: Table I, rate tables, rate–quality plots, a Fig. 5-style grid.

The report is built once as a list of :class:`Section` objects and rendered twice,
to Markdown and to a self-contained HTML page beside the PNG figures, so the two
never disagree.
"""

from __future__ import annotations

import html
import math
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import baselines
from .metrics import METRIC_BY_KEY, METRICS, NO_REFERENCE, MetricValue, Unavailable, value_from_json

#: Metrics that have no meaning on the input row (they compare against the input).
_FULL_REFERENCE = tuple(m.key for m in METRICS if m.key not in NO_REFERENCE)
NOT_APPLICABLE = "–"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (relative path, alt text)
    bullets: bool = False


# --- aggregation ---------------------------------------------------------------------------


def row_names(results: list[dict]) -> list[str]:
    """Rows in report order: input, the classical codecs, then SGC per profile."""
    names: list[str] = []
    for r in results:
        names += [n for n in r["rows"] if n not in names]
    rank = {"input": 0, "codec": 1, "sgc": 2}
    kinds = {n: r["rows"][n]["kind"] for r in results for n in r["rows"]}
    return sorted(names, key=lambda n: rank[kinds[n]])


def _sample_values(sample: dict, key: str) -> MetricValue | None:
    return value_from_json(sample.get(key))


def image_mean(row: dict, key: str) -> MetricValue | None:
    """Mean of a metric over a row's samples (seeds); Unavailable if no sample has a number."""
    values = [_sample_values(s, key) for s in row["samples"]]
    numbers = [v for v in values if isinstance(v, float)]
    if numbers:
        return float(np.mean(numbers))
    return next((v for v in values if isinstance(v, Unavailable)), None)


def aggregate(results: list[dict], row: str, key: str) -> MetricValue | None:
    """Mean over images of the per-image means (None when no image has the metric)."""
    values = [image_mean(r["rows"][row], key) for r in results if row in r["rows"]]
    numbers = [v for v in values if isinstance(v, float)]
    finite = [v for v in numbers if math.isfinite(v)]
    if numbers:
        return float(np.mean(finite)) if finite else math.inf
    return next((v for v in values if isinstance(v, Unavailable)), None)


def coverage(results: list[dict], row: str, key: str) -> tuple[int, int]:
    """(images with a finite number, images with the row): a mean over fewer says so."""
    values = [image_mean(r["rows"][row], key) for r in results if row in r["rows"]]
    return sum(isinstance(v, float) and math.isfinite(v) for v in values), len(values)


def rate_mean(results: list[dict], row: str, key: str) -> float:
    return float(np.mean([r["rows"][row][key] for r in results if row in r["rows"]]))


def seed_spread(results: list[dict], row: str, key: str) -> float | None:
    """Mean over images of the standard deviation of a metric across seeds."""
    spreads = []
    for r in results:
        values = [_sample_values(s, key) for s in r["rows"].get(row, {}).get("samples", [])]
        numbers = [v for v in values if isinstance(v, float) and math.isfinite(v)]
        if len(numbers) >= 2:
            spreads.append(float(np.std(numbers)))
    return float(np.mean(spreads)) if spreads else None


def fmt(value: MetricValue | None, digits: int = 3) -> str:
    if value is None:
        return NOT_APPLICABLE
    if isinstance(value, Unavailable):
        return "unavailable"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"


# --- sections ------------------------------------------------------------------------------


def _table_one(results: list[dict], rows: list[str]) -> Table:
    header = ["", *(f"{m.label} {m.arrow}" for m in METRICS), "bytes", "bpp", "bpp @512²"]
    body = []
    for row in rows:
        kind = results[0]["rows"].get(row, {}).get("kind") or next(
            r["rows"][row]["kind"] for r in results if row in r["rows"])
        cells = [row]
        for m in METRICS:
            if kind == "input" and m.key in _FULL_REFERENCE:
                cells.append(NOT_APPLICABLE)
            else:
                scored, total = coverage(results, row, m.key)
                part = f" ({scored}/{total})" if 0 < scored < total else ""
                cells.append(fmt(aggregate(results, row, m.key)) + part)
        if kind == "input":
            cells += [f"{rate_mean(results, row, 'bytes'):.0f} (file)", fmt(rate_mean(results, row, "bpp")),
                      NOT_APPLICABLE]
        else:
            cells += [f"{rate_mean(results, row, 'bytes'):.0f}", fmt(rate_mean(results, row, "bpp")),
                      fmt(rate_mean(results, row, "bpp512"))]
        body.append(cells)
    groups = ", ".join(sorted({m.group for m in METRICS}))
    caption = (f"Means over {len(results)} image(s); SGC rows average all seeds. Column groups: {groups}. "
               "bpp @512² = the same bytes spread over a 512×512 image, the paper's convention. "
               "↑ higher is better, ↓ lower is better. (n/N): the metric is defined for only n of the "
               "N images, and the mean is over those (BRISQUE is undefined for nearly flat images).")
    return Table(header, body, caption)


def _rate_table(results: list[dict], rows: list[str]) -> Table:
    body = []
    for row in rows:
        present = [r["rows"][row] for r in results if row in r["rows"]]
        kind = present[0]["kind"]
        if kind == "input":
            continue
        if kind == "codec":
            reached = sum(p["reached"] for p in present)
            note = f"{reached}/{len(present)} images within target"
            if reached < len(present):
                note += "; elsewhere the codec's smallest file (cannot go that low)"
            settings = _summary(p["setting"] for p in present)
        else:
            note = "defines the target"
            settings = _summary(
                "labels {}x{} / colours {}x{}".format(*p["label_grid"], *p["color_grid"]) for p in present)
        sizes = [p["bytes"] for p in present]
        body.append([row, f"{np.mean(sizes):.0f}", f"{min(sizes)}–{max(sizes)}",
                     fmt(rate_mean(results, row, "bpp"), 4), fmt(rate_mean(results, row, "bpp512"), 4),
                     note, settings])
    return Table(["", "mean bytes", "range", "bpp", "bpp @512²", "matched rate", "settings"], body,
                 "Baselines are binary-searched to the first SGC profile's file size, per image.")


def _summary(settings, shown: int = 2) -> str:
    """The most frequent settings of a row, and how many others there are."""
    counts: dict[str, int] = {}
    for setting in settings:
        counts[setting] = counts.get(setting, 0) + 1
    ranked = sorted(counts, key=lambda k: -counts[k])
    text = ", ".join(f"{k} ×{counts[k]}" if len(ranked) > 1 else k for k in ranked[:shown])
    return text + (f", {len(ranked) - shown} other(s)" if len(ranked) > shown else "")


def _diversity_table(results: list[dict], rows: list[str]) -> Table:
    keys = [k for k in ("psnr", "ms_ssim", "bce", "clip", "musiq") if k in METRIC_BY_KEY]
    body = []
    for row in rows:
        present = [r["rows"][row] for r in results if row in r["rows"]]
        if present[0]["kind"] != "sgc":
            continue
        seeds = max(len(p["samples"]) for p in present)
        times = [s["decode_s"] for p in present for s in p["samples"]]
        similarity = [p["seed_ms_ssim"] for p in present if p.get("seed_ms_ssim") is not None]
        body.append([row, str(seeds), f"{np.mean(times):.2f}",
                     fmt(float(np.mean(similarity))) if similarity else NOT_APPLICABLE,
                     *(fmt(seed_spread(results, row, k)) for k in keys)])
    header = ["", "seeds", "decode s", "MS-SSIM between seeds",
              *(f"σ {METRIC_BY_KEY[k].label}" for k in keys)]
    return Table(header, body, "σ = standard deviation across seeds, averaged over images; "
                 "MS-SSIM between seeds near 1 means the seeds barely differ.")


def _unavailable(results: list[dict], set_level: dict) -> list[str]:
    seen: dict[str, Unavailable] = {}
    for r in results:
        for row in r["rows"].values():
            for s in row["samples"]:
                for key, value in s.items():
                    v = value_from_json(value) if isinstance(value, dict) else None
                    if isinstance(v, Unavailable) and key not in seen:
                        seen[key] = v
    for values in set_level.values():
        for key, value in values.items():
            v = value_from_json(value)
            if isinstance(v, Unavailable) and key.upper() not in seen:
                seen[key.upper()] = v
    label = {m.key: m.label for m in METRICS}
    return [f"**{label.get(k, k)}**: {v}" for k, v in seen.items()]


def _set_table(set_level: dict) -> Table:
    body = [[row, fmt(value_from_json(v.get("fid"))), fmt(value_from_json(v.get("kid")))]
            for row, v in set_level.items()]
    return Table(["", "FID ↓", "KID ↓"], body, "Against the inputs (SGC: first seed).")


def _per_image_table(results: list[dict], rows: list[str]) -> Table:
    keys = ("psnr", "ms_ssim", "pixel_accuracy", "bce", "clip")
    body = []
    for r in results:
        for row in rows:
            if row == "Input" or row not in r["rows"]:
                continue
            data = r["rows"][row]
            reached = "" if data.get("reached", True) else " (min)"
            body.append([r["stem"], row, f"{data['bytes']}{reached}", fmt(data["bpp"], 4),
                         *(fmt(image_mean(data, k)) for k in keys)])
    return Table(["image", "", "bytes", "bpp", *(METRIC_BY_KEY[k].label for k in keys)], body,
                 "(min): the codec's smallest file is still above the target.")


# --- figures -------------------------------------------------------------------------------

PLOT_METRICS = ("psnr", "ms_ssim", "pixel_accuracy", "bce", "clip", "musiq", "clipiqa", "brisque", "niqe",
                "lpips")


def rate_quality_plot(results: list[dict], rows: list[str], path: Path) -> list[str]:
    """One panel per metric that has numbers: bpp (log) against the metric, a point per image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in PLOT_METRICS
            if any(isinstance(aggregate(results, row, k), float) for row in rows if row != "Input")]
    if not keys:
        return []
    cols = min(3, len(keys))
    nrows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, key in zip(axes.flat, keys, strict=False):
        spec = METRIC_BY_KEY[key]
        for i, row in enumerate(r for r in rows if r != "Input"):
            points = [(r["rows"][row]["bpp"], image_mean(r["rows"][row], key))
                      for r in results if row in r["rows"]]
            points = [(x, y) for x, y in points if isinstance(y, float) and math.isfinite(y)]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            marker = "*" if row.startswith("SGC") else "o"
            ax.scatter(xs, ys, s=14, alpha=0.45, color=colours(i), marker=marker)
            ax.scatter([np.mean(xs)], [np.mean(ys)], s=90, color=colours(i), marker=marker,
                       edgecolors="black", label=row)
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(f"{spec.label} {spec.arrow}")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), frameon=False)
    legend_rows = math.ceil(len(labels) / 4)
    fig.tight_layout(rect=(0, (0.06 + 0.05 * legend_rows) / nrows, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return keys


def _anchor(rows: list[str]) -> str | None:
    """The classical codec shown in the grid: the paper's VVC, else the best modern one present."""
    for name in ("VVC", "AVIF", "JPEG XL", "WebP", "JPEG 2000", "JPEG"):
        if name in rows:
            return name
    return None


def comparison_grid(results: list[dict], rows: list[str], path: Path, images: int = 4,
                    seeds: int = 3, tile: int = 256) -> bool:
    """Fig. 5 of the paper: original | anchor codec | SGC seeds, one image per line, captioned."""
    sgc = next((r for r in rows if r.startswith("SGC")), None)
    if sgc is None or not results:
        return False
    anchor = _anchor(rows)
    base = path.parent
    font = ImageFont.load_default(size=13)
    lines = []
    for r in results[:images]:
        cells = [("original", r["rows"]["Input"]["samples"][0]["image"], r["rows"]["Input"]["bytes"])]
        if anchor and anchor in r["rows"]:
            a = r["rows"][anchor]
            note = "" if a["reached"] else " (min)"
            cells.append((f"{anchor}{note}", a["samples"][0]["image"], a["bytes"]))
        for s in r["rows"][sgc]["samples"][:seeds]:
            cells.append((f"SGC seed {s['seed']}", s["image"], r["rows"][sgc]["bytes"]))
        lines.append(cells)
    columns = max(len(c) for c in lines)
    heights = []
    for cells in lines:
        with Image.open(base / cells[0][1]) as im:
            heights.append(round(tile * im.height / im.width))
    caption = 20
    grid = Image.new("RGB", (columns * tile, sum(h + caption for h in heights)), "white")
    draw = ImageDraw.Draw(grid)
    y = 0
    for cells, h in zip(lines, heights, strict=True):
        for i, (label, image_path, nbytes) in enumerate(cells):
            with Image.open(base / image_path) as im:
                grid.paste(im.convert("RGB").resize((tile, h), Image.LANCZOS), (i * tile, y))
            draw.text((i * tile + 4, y + h + 3), f"{label}: {nbytes} B", fill="black", font=font)
        y += h + caption
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
    return True


# --- rendering -----------------------------------------------------------------------------


def describe_machine() -> str:
    """Host, CPU and (when torch is already loaded) the GPU the numbers came from."""
    text = (f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}")
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text + ")"


def build_sections(results: list[dict], config: dict, set_level: dict, out_dir: Path,
                   machine: str | None = None) -> list[Section]:
    rows = row_names(results)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine or describe_machine()
    setup = Section("Setup", [
        f"{len(results)} image(s) from `{config['images_dir']}`; profiles "
        f"{', '.join(config['profiles'])}; {config['seeds']} seed(s) per file; "
        f"SGC budget {config['target_bytes'] or 'encoder default'}; generated {when} on {machine}.",
    ])
    codecs_missing = baselines.missing_codecs()
    if codecs_missing:
        setup.paragraphs.append("Codecs not available here: " + "; ".join(
            f"{name} ({how})" for name, how in codecs_missing.items()) + ".")
    if config.get("note"):
        setup.paragraphs.insert(0, f"**Note:** {config['note']}")
    sections = [setup, Section("Table I — realism Ψ, semantic fidelity Φ, distortion and rate",
                               tables=[_table_one(results, rows)])]
    sections.append(Section("Rate", tables=[_rate_table(results, rows)]))
    sections.append(Section("Diversity and decode time", tables=[_diversity_table(results, rows)]))
    set_section = Section("Set-level realism (FID, KID)", tables=[_set_table(set_level)])
    sections.append(set_section)
    missing = _unavailable(results, set_level)
    sections.append(Section("Unavailable metrics", missing or ["Every metric was computed."],
                            bullets=bool(missing)))
    plot = out_dir / "rate_quality.png"
    plotted = rate_quality_plot(results, rows, plot)
    sections.append(Section(
        "Rate–quality plots",
        [f"Panels: {', '.join(METRIC_BY_KEY[k].label for k in plotted)}. Small markers are images, "
         "large ones the means; ★ = SGC."] if plotted else ["No metric with numbers to plot."],
        images=[(plot.name, "rate-quality plots")] if plotted else [],
    ))
    grid = out_dir / "grid.png"
    has_grid = comparison_grid(results, rows, grid)
    sections.append(Section(
        "Comparison grid (Fig. 5 style)",
        ["Original, the classical anchor at the same rate, and SGC decodes for several seeds; "
         "sizes in bytes."] if has_grid else ["No SGC row to show."],
        images=[(grid.name, "comparison grid")] if has_grid else [],
    ))
    sections.append(Section("Per image", tables=[_per_image_table(results, rows)]))
    return sections


def to_markdown(title: str, sections: list[Section]) -> str:
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        if s.bullets:
            out += [f"- {p}" for p in s.paragraphs] + [""]
        else:
            for p in s.paragraphs:
                out += [p, ""]
        for t in s.tables:
            out.append("| " + " | ".join(t.header) + " |")
            out.append("|" + "|".join("---" for _ in t.header) + "|")
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in t.rows]
            out += ["", f"*{t.caption}*" if t.caption else "", ""]
        for src, alt in s.images:
            out += [f"![{alt}]({src})", ""]
    return "\n".join(out).rstrip() + "\n"


def _inline_md(text: str) -> str:
    """The little Markdown the paragraphs use (**bold**, `code`) as HTML."""
    parts = html.escape(text).split("**")
    text = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def to_html(title: str, sections: list[Section]) -> str:
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:13px;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}"
             "caption{caption-side:bottom;font-size:12px;color:#555;text-align:left}"
             "img{max-width:100%}.na{color:#a33}")
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"]
    for s in sections:
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.bullets:
            out.append("<ul>" + "".join(f"<li>{_inline_md(p)}</li>" for p in s.paragraphs) + "</ul>")
        else:
            out += [f"<p>{_inline_md(p)}</p>" for p in s.paragraphs]
        for t in s.tables:
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in t.header) + "</tr>")
            for row in t.rows:
                cells = "".join(
                    f"<td class='na'>{html.escape(c)}</td>" if c == "unavailable"
                    else f"<td>{html.escape(c)}</td>" for c in row)
                out.append(f"<tr>{cells}</tr>")
            out.append(f"<caption>{html.escape(t.caption)}</caption></table>")
        out += [f"<img src='{html.escape(src)}' alt='{html.escape(alt)}'>" for src, alt in s.images]
    out.append("</body></html>")
    return "\n".join(out)


def write_report(results: list[dict], config: dict, set_level: dict, out_dir: Path,
                 title: str = "SGC evaluation") -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and their figures into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = build_sections(results, config, set_level, out_dir)
    md, page = out_dir / "report.md", out_dir / "report.html"
    md.write_text(to_markdown(title, sections))
    page.write_text(to_html(title, sections))
    return md, page
