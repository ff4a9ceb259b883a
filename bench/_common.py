"""Helpers shared by the benchmark scripts: corpus discovery and result tables with provenance."""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("SGC_CORPUS", ROOT.parent / "shared" / "corpus"))
RESULTS = ROOT / "bench" / "results"


def corpus_entries(with_labels: bool = True) -> list[dict]:
    entries = json.loads((CORPUS / "manifest.json").read_text())
    return [e for e in entries if e.get("label") or not with_labels]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def markdown_table(header: list[str], rows: list[list]) -> str:
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, body: str, data: dict | None = None) -> Path:
    """Write ``bench/results/NAME.md`` (and ``.json``) stamped with machine and date; print it too."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = f"Machine: {machine()}  \nDate: {datetime.date.today().isoformat()}"
    text = f"# {title}\n\n{stamp}\n\n{body}\n"
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    if data is not None:
        (RESULTS / f"{name}.json").write_text(json.dumps(
            {"machine": machine(), "date": datetime.date.today().isoformat(), **data}, indent=1) + "\n")
    print(text)
    return path
