"""Cost of hostile inputs (issue 9): time and peak memory of every entry point, per reproducer.

    python bench/hostile.py            # writes bench/results/hostile.md

Each reproducer is rebuilt from the issue's description (:func:`reproducers`) and each
operation runs in a fresh child process, which reports the best of 5 wall times, the
tracemalloc peak (Python and numpy allocations) and the growth of its peak RSS over the
operation (everything, Pillow's C buffers included). ``tests/test_hostile.py`` asserts the
same bounds on memory, deterministically; this script is where the times are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20

#: Issue 9 targets.
READ_SECONDS, READ_BYTES = 0.020, 32 * MiB
THUMB_SECONDS, THUMB_BYTES = 0.030, 32 * MiB


def chunk_flood(total: int, good_crc: bool) -> bytes:
    """A valid header followed by 2-byte chunk records (type 0x20, empty) up to ``total`` bytes."""
    from sgcformat.container import crc16

    head = b"SGC\x01" + bytes([8, 8, 0x00, 8, 4, 0])  # 8x8 coco-stuff preview, grids 8 and 4
    records = (total - len(head) - 4) // 2
    body = head + b"\x20\x00" * records + b"\x00\x00"  # then end of chunks, empty label data
    crc = crc16(body) ^ (0 if good_crc else 1)
    return body + crc.to_bytes(2, "little")


def many_classes(classes: int, vocab: str) -> bytes:
    """A valid 1024×1024 file with 255×255 label and colour grids holding ``classes`` classes."""
    from sgcformat.coding import colors, labels
    from sgcformat.container import SgcFile, build

    grid = np.zeros((255, 255), np.uint16)
    grid.flat[:classes] = np.arange(classes)
    return build(SgcFile(1024, 1024, vocab, "preview", 255, 255, 0, labels.encode(grid, vocab),
                         colors.encode(np.zeros((255, 255, 3), np.uint8), 0)))


def declared_size(width: int, height: int) -> bytes:
    """A valid file of 1×1 grids declaring ``width`` × ``height`` pixels (about 20 bytes)."""
    from sgcformat.coding import colors, labels
    from sgcformat.container import SgcFile, build

    return build(SgcFile(width, height, "coco-stuff-182", "preview", 1, 1, 0,
                         labels.encode(np.zeros((1, 1), np.uint16), "coco-stuff-182"),
                         colors.encode(np.full((1, 1, 3), 128, np.uint8), 0)))


def normal_file() -> bytes:
    """The spec's default-settings vector (512×512, 32×32 labels, ~120 B) as a preview-profile file."""
    import sgcformat

    sgc = sgcformat.read(ROOT / "spec" / "vectors" / "valid" / "coco-512-default.sgc")
    return dataclasses.replace(sgc, profile="preview").to_bytes()


def reproducers() -> dict[str, bytes]:
    """Issue 9's reproducers by name."""
    return {
        "chunk flood 16 MiB, good CRC": chunk_flood(16 * MiB, True),
        "chunk flood 16 MiB, bad CRC": chunk_flood(16 * MiB, False),
        "chunk flood 1 MiB, good CRC": chunk_flood(MiB, True),
        "chunk flood 1 MiB, bad CRC": chunk_flood(MiB, False),
        "255² grids, 182 classes": many_classes(182, "coco-stuff-182"),
        "255² grids, 150 classes": many_classes(150, "ade20k-150"),
        "declares 9000×9000": declared_size(9000, 9000),
        "declares 65535×65535": declared_size(65535, 65535),
        "normal file (spec vector)": normal_file(),
    }


# --- the operations, run in a child process ------------------------------------------------


def _operation(name: str, path: Path):
    from PIL import Image

    import sgcformat
    import sgcformat.pil

    def thumbnail() -> None:
        with Image.open(path) as im:
            im.thumbnail((256, 256))

    def load() -> None:
        with Image.open(path) as im:
            im.load()

    return {
        "sgcformat.read": lambda: sgcformat.read(path),
        "Image.open": lambda: Image.open(path).close(),
        "thumbnail((256, 256))": thumbnail,
        "load() (full-size preview)": load,
    }[name]


def _status(field: str) -> int:
    """A byte count from /proc/self/status (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def child(name: str, path: Path) -> dict:
    """Run one operation: best of 5 times, tracemalloc peak, peak-RSS growth, outcome."""
    import warnings

    action = _operation(name, path)
    Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from the current RSS
    rss_before = _status("VmRSS")
    outcome, times = "ok", []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            start = time.perf_counter()
            try:
                action()
            except Exception as exc:
                outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
            times.append(time.perf_counter() - start)
    rss = _status("VmHWM") - rss_before
    tracemalloc.start()
    with contextlib.suppress(Exception):  # the outcome was recorded above
        action()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if caught and outcome == "ok":
        outcome = f"ok, {type(caught[0].message).__name__}"
    return {"seconds": min(times), "traced": traced, "rss": rss, "outcome": outcome}


def run_child(name: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", name, str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def run_cli(path: Path, out: Path) -> dict:
    """``sgc decode --preview`` in its own process: wall time, exit status, stderr lines, peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sgcformat.cli", "decode", str(path), "-o", str(out),
                             "--preview"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    lines = stderr.strip().splitlines()
    outcome = f"exit {os.waitstatus_to_exitcode(status)}, {len(lines)} stderr line(s)"
    if lines:
        outcome += f": {lines[-1][:90]}"
    return {"seconds": seconds, "traced": None, "rss": usage.ru_maxrss * 1024, "outcome": outcome}


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


OPERATIONS = ("sgcformat.read", "Image.open", "thumbnail((256, 256))", "load() (full-size preview)")


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import markdown_table, write_result

    startup = min(_timed([sys.executable, "-m", "sgcformat.cli", "--version"]) for _ in range(3))
    rows = [["(reference: `sgc --version`, process startup)", "", "process", f"{startup * 1000:.0f}", "", "",
             "exit 0"]]
    data = [{"input": None, "operation": "sgc --version", "seconds": startup}]
    with tempfile.TemporaryDirectory() as tmp:
        for label, content in reproducers().items():
            path = Path(tmp) / "input.sgc"
            path.write_bytes(content)
            results = {op: run_child(op, path) for op in OPERATIONS}
            results["sgc decode --preview (process)"] = run_cli(path, Path(tmp) / "out.png")
            for op, r in results.items():
                traced = "" if r["traced"] is None else f"{r['traced'] / MiB:.2f}"
                rows.append([label, f"{len(content):,}", op, f"{r['seconds'] * 1000:.1f}", traced,
                             f"{r['rss'] / MiB:.1f}", r["outcome"]])
                data.append({"input": label, "bytes": len(content), "operation": op, **r})
    body = (
        "Each operation in a fresh process: best of 5 wall times; *traced* = tracemalloc peak "
        "(Python + numpy); *RSS* = growth of the process's peak RSS during the 5 runs (all "
        "allocations, Pillow's included; for `sgc decode` the whole process's peak RSS, imports "
        "included). Linux only (`/proc/self`).\n\n"
        f"Targets (issue 9): `read`/`Image.open` of any input ≤ {READ_SECONDS * 1000:.0f} ms and "
        f"≤ {READ_BYTES // MiB} MiB; draft/thumbnail at 256² ≤ {THUMB_SECONDS * 1000:.0f} ms and "
        f"≤ {THUMB_BYTES // MiB} MiB; full-size preview ≤ 2× the output image (Pillow holds RGB as "
        "4 bytes a pixel: 9000×9000 = 309 MiB). Pixel limits: the plugin uses Pillow's "
        "`Image.MAX_IMAGE_PIXELS` (89.5 M; 9000² = 81 M is allowed), the library and CLI "
        "`sgcformat.limits.MAX_IMAGE_PIXELS` (32 Mi; error above 64 Mi).\n\n"
        + markdown_table(["input", "bytes", "operation", "ms", "traced MiB", "RSS MiB", "outcome"], rows)
    )
    write_result("hostile", "Hostile inputs: time and memory per entry point", body, {"rows": data})


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], Path(sys.argv[3]))))
    else:
        main()
