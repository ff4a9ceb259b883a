"""Rate control on the corpus (issue 2 target): `target_bytes` N in 64 … 1024.

    python bench/rate_control.py

Every file must be ≤ N, and ≥ 0.8·N wherever the budget binds (the finest settings the encoder
offers would not fit). Prints per-budget aggregates and writes bench/results/rate_control.md.
"""

from __future__ import annotations

import statistics
import time

from _common import CORPUS, corpus_entries, markdown_table, write_result
from PIL import Image

import sgcformat
from sgcformat import codec
from sgcformat.coding import colors
from sgcformat.container import MAX_GRID

BUDGETS = (64, 128, 256, 512, 1024)


def is_finest(sgc) -> bool:
    limit = min(MAX_GRID, max(sgc.size))
    return (sgc.label_grid, sgc.color_grid, sgc.color_quality) == (limit, limit, colors.QUALITY_LEVELS - 1)


def main() -> None:
    rows, per_budget = [], {n: [] for n in BUDGETS}
    for e in corpus_entries():
        image = codec.to_rgb(CORPUS / e["image"])
        with Image.open(CORPUS / e["label"]) as im:
            labels = im.copy()
        for n in BUDGETS:
            start = time.perf_counter()
            sgc = sgcformat.encode(image, labels=labels, vocab=e["vocab"], target_bytes=n)
            seconds = time.perf_counter() - start
            size = len(sgc.to_bytes())
            per_budget[n].append((size, seconds, sgc))
    for n in BUDGETS:
        sizes = [s for s, _, _ in per_budget[n]]
        # The budget binds unless the encoder already chose its finest settings.
        binding = [s for s, _, sgc in per_budget[n] if not is_finest(sgc)]
        rows.append([n, len(sizes), min(sizes), statistics.mean(sizes), max(sizes),
                     sum(s > n for s in sizes), len(binding),
                     min(binding) / n if binding else "-", sum(s < 0.8 * n for s in binding),
                     statistics.mean(t for _, t, _ in per_budget[n])])
    body = (f"{len(per_budget[BUDGETS[0]])} corpus images with labels (all vocabularies), "
            "`sgcformat.encode(..., target_bytes=N)`.\n\n"
            + markdown_table(["N", "files", "min B", "mean B", "max B", "files > N (target 0)",
                              "binding", "min fill of binding", "binding < 0.8·N (target 0)",
                              "s/encode"], rows)
            + "\n\n*Binding*: files for which the encoder could not use its finest settings (grids of "
              "long side min(255, image long side), top colour quality), so the 0.8·N floor applies.")
    write_result("rate_control", "Rate control (`target_bytes`)", body, {"rows": rows})


if __name__ == "__main__":
    main()
