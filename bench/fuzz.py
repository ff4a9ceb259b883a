"""Fuzz every reader entry point and record the slowest and the largest inputs (issue 9).

    python bench/fuzz.py [--inputs N] [--deadline HH:MM] [--seed S]   # writes bench/results/fuzz.md
    python bench/fuzz.py --atheris [ARGS]   # coverage-guided, when `pip install atheris` works

Inputs are mutated conformance vectors and issue 9's reproducers (bit flips, byte edits, bursts,
splices, truncations, insertions, varint inflation, repeated tails, chunk injection), with the
CRC repaired on 60 % of them so that mutations reach the header checks and map decoders.

Every input goes through ``sgcformat.parse`` and, when it parses, both map decoders and (one in
:data:`PREVIEW_EVERY`) the preview, at thumbnail size and at full size up to 1 Mpx; one in
:data:`DEEP_EVERY` also goes through Pillow (``Image.open`` + ``thumbnail((128, 128))``). That
keeps 10⁶ inputs within half an hour on two shared cores. Each stage's wall time and
tracemalloc peak are recorded; the :data:`TOP` slowest and largest inputs per stage are kept
(bytes as hex) in the results. A crash is any exception outside the documented ones: it is
counted, the input saved, and the run goes on.
"""

from __future__ import annotations

import argparse
import datetime
import heapq
import io
import random
import sys
import time
import tracemalloc
import warnings
from collections import Counter
from pathlib import Path

from PIL import Image

import sgcformat.pil  # noqa: F401 - registers the format
from sgcformat.container import MAX_FILE_BYTES, crc16, parse
from sgcformat.errors import SgcError
from sgcformat.preview_decoder import render_preview

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "spec" / "vectors"

#: One input in this many also goes through Pillow, and one in PREVIEW_EVERY that parses
#: through the preview.
DEEP_EVERY = 10
PREVIEW_EVERY = 2
#: Slowest / largest inputs kept per stage.
TOP = 5
#: Mutated inputs are cut to this size (repeated tails and splices compound): past the
#: format's limit, a reader only has to say so.
MAX_INPUT = MAX_FILE_BYTES + 4096
#: Inputs up to this size are kept whole (hex) in the results; larger ones by their first bytes.
KEEP_WHOLE = 4096
#: Exceptions a reader may raise; anything else is a crash. Pillow turns format errors into
#: UnidentifiedImageError at open and OSError at load; both check the pixel limit.
EXPECTED = (SgcError, Image.UnidentifiedImageError, OSError, Image.DecompressionBombError)


def seeds() -> list[bytes]:
    """Starting points: every conformance vector and the small hostile reproducers."""
    sys.path.insert(0, str(Path(__file__).parent))
    import hostile

    found = [p.read_bytes() for p in sorted(VECTORS.glob("*/*.sgc"))]
    return [*found, hostile.many_classes(182, "coco-stuff-182"), hostile.many_classes(150, "ade20k-150"),
            hostile.declared_size(9000, 9000), hostile.declared_size(65535, 65535),
            hostile.normal_file(), hostile.chunk_flood(4096, True)]


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        if op == 0 and b:  # bit flip
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif op == 1 and b:  # byte edit
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2 and b:  # burst
            at = rng.randrange(len(b))
            b[at:at + rng.randrange(1, 16)] = rng.randbytes(rng.randrange(1, 16))
        elif op == 3:  # insertion
            at = rng.randrange(len(b) + 1)
            b[at:at] = rng.randbytes(rng.randrange(1, 8))
        elif op == 4 and b:  # truncation
            del b[rng.randrange(len(b)):]
        elif op == 5 and b:  # varint inflation: a byte gains continuation bytes
            at = rng.randrange(len(b))
            b[at:at + 1] = bytes([b[at] | 0x80] + [0x80] * rng.randrange(0, 4) + [rng.randrange(128)])
        elif op == 6 and b:  # repeated tail
            cut = rng.randrange(len(b))
            b += b[cut:] * rng.randrange(1, 64)
        elif op == 7 and len(b) > 10:  # chunk injection after the header
            at = rng.randrange(4, min(len(b), 16))
            records = b"".join(bytes([rng.randrange(256), n]) + rng.randbytes(n)
                               for n in (rng.randrange(4) for _ in range(rng.randrange(1, 300))))
            b[at:at] = records
        else:  # splice with another input
            other = rng.choice(pool)
            b = b[: rng.randrange(len(b) + 1)] + other[rng.randrange(len(other) + 1):]
    del b[MAX_INPUT:]
    if rng.random() < 0.6 and len(b) > 2:
        b[-2:] = crc16(bytes(b[:-2])).to_bytes(2, "little")
    return bytes(b)


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, longest / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _thumbnail(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((128, 128))


class Recorder:
    """Counts, outcomes and the slowest / largest inputs of each stage."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.slowest: dict[str, list] = {}
        self.largest: dict[str, list] = {}
        self.crashes: list[tuple[str, str, bytes]] = []
        self.total_seconds: Counter[str] = Counter()

    def run(self, stage: str, data: bytes, action):
        """Run ``action()`` as ``stage``: time, tracemalloc peak above the start, outcome."""
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        result, outcome = None, "ok"
        try:
            result = action()
        except EXPECTED as exc:
            outcome = type(exc).__name__
        except Exception as exc:  # a crash: recorded, the run goes on
            outcome = f"CRASH {type(exc).__name__}"
            self.crashes.append((stage, f"{type(exc).__name__}: {exc}", data))
        seconds = time.perf_counter() - start
        memory = tracemalloc.get_traced_memory()[1] - base
        self.counts[stage] += 1
        self.total_seconds[stage] += seconds
        self.outcomes[stage, outcome] += 1
        for table, key in ((self.slowest, seconds), (self.largest, memory)):
            heap = table.setdefault(stage, [])
            item = (key, seconds, memory, len(data), _kept(data), outcome)
            if len(heap) < TOP:
                heapq.heappush(heap, item)
            elif key > heap[0][0]:
                heapq.heapreplace(heap, item)
        return result


def _kept(data: bytes) -> str:
    return data.hex() if len(data) <= KEEP_WHOLE else data[:32].hex() + f"…({len(data)} bytes)"


def check(rec: Recorder, data: bytes, preview: bool, pillow: bool) -> None:
    """The property under test: every stage ends in a value or a documented error, cheaply."""
    sgc = rec.run("parse", data, lambda: parse(data))
    if sgc is not None:
        rec.run("maps", data, lambda: (sgc.label_map, sgc.color_map))
        if preview:
            rec.run("preview 128", data, lambda: render_preview(sgc, _fit(sgc.size, 128)))
            if sgc.width * sgc.height <= 1 << 20:
                rec.run("preview full size", data, lambda: render_preview(sgc))
    if pillow:
        rec.run("Image.open + thumbnail", data, lambda: _thumbnail(data))


def retime(stage: str, data: bytes) -> float:
    """Best of 3 wall times of ``stage`` on ``data``, after the run (without tracing)."""
    best = float("inf")
    for _ in range(3):
        rec = Recorder()
        check(rec, data, stage.startswith("preview"), stage.startswith("Image"))
        best = min(best, rec.total_seconds[stage])
    return best


def fuzz(inputs: int, deadline: datetime.datetime | None, seed: int) -> tuple[Recorder, int, float]:
    rng = random.Random(seed)
    pool = seeds()
    rec = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(Recorder(), b"not an image", False, True)  # Pillow imports all its plugins on a first miss
    tracemalloc.start()
    start = time.monotonic()
    done = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning, unsupported-version warnings
        while done < inputs:
            if deadline is not None and done % 1000 == 0 and datetime.datetime.now() >= deadline:
                break
            data = mutate(rng, rng.choice(pool), pool)
            check(rec, data, done % PREVIEW_EVERY == 0, done % DEEP_EVERY == 0)
            done += 1
            if done % 100_000 == 0:
                print(f"{done} inputs, {time.monotonic() - start:.0f} s, {len(rec.crashes)} crashes",
                      flush=True)
    tracemalloc.stop()
    return rec, done, time.monotonic() - start


def report(rec: Recorder, done: int, seconds: float, seed: int, name: str = "fuzz") -> None:
    from _common import markdown_table, write_result

    stages = list(rec.counts)
    rows = []
    for stage in stages:
        slow = max(rec.slowest[stage])
        big = max(rec.largest[stage])
        outcomes = ", ".join(f"{o} {n:,}" for (s, o), n in rec.outcomes.most_common() if s == stage)
        mean = rec.total_seconds[stage] / rec.counts[stage]
        again = retime(stage, bytes.fromhex(slow[4])) if "…" not in slow[4] else float("nan")
        rows.append([stage, f"{rec.counts[stage]:,}", f"{mean * 1e6:.0f}", f"{slow[1] * 1000:.1f}",
                     f"{again * 1000:.1f}", f"{big[2] / 2**20:.2f}", outcomes])
    worst = []
    for stage in stages:
        for kind, table in (("slowest", rec.slowest), ("largest", rec.largest)):
            for _, secs, memory, size, hexdata, outcome in sorted(table[stage], reverse=True)[:3]:
                worst.append([stage, kind, f"{secs * 1000:.1f}", f"{memory / 2**20:.2f}", size, outcome,
                              hexdata[:40] + ("…" if len(hexdata) > 40 else "")])
    body = (
        f"{done:,} inputs in {seconds / 60:.1f} min (seed {seed}; every input through `parse`, "
        f"parsed ones through both map decoders, one in {PREVIEW_EVERY} of those through the preview, "
        f"one input in {DEEP_EVERY} through Pillow), **{len(rec.crashes)} crashes** (exceptions outside "
        f"{', '.join(e.__name__ for e in EXPECTED)}).\n\n"
        "Per stage: inputs, mean µs, the slowest input's time as seen in the run (two shared cores: "
        "includes scheduling noise), the same input re-timed at the end (best of 3, no tracemalloc), "
        "and the largest tracemalloc peak (Python + numpy allocations; tracing slows the run).\n\n"
        + markdown_table(["stage", "inputs", "mean µs", "slowest ms", "same input again, best of 3 ms",
                          "largest MiB", "outcomes"], rows)
        + "\n\nThe worst inputs of each stage (full bytes in `fuzz.json`):\n\n"
        + markdown_table(["stage", "kept as", "ms", "MiB", "bytes", "outcome", "first bytes (hex)"], worst)
    )
    if rec.crashes:
        body += "\n\nCrashes:\n\n" + "\n".join(
            f"- {s}: {m[:200]} (`{d.hex()[:80]}`)" for s, m, d in rec.crashes[:20])
    write_result(name, "Fuzzing the readers: slowest and largest inputs", body, {
        "inputs": done, "seconds": seconds, "seed": seed, "crashes": [
            {"stage": s, "error": m, "hex": d.hex()} for s, m, d in rec.crashes[:100]],
        "stages": {stage: {
            "inputs": rec.counts[stage], "mean_seconds": rec.total_seconds[stage] / rec.counts[stage],
            "slowest": [dict(zip(("seconds", "bytes_peak", "size", "hex", "outcome"), item[1:], strict=True))
                        for item in sorted(rec.slowest[stage], reverse=True)],
            "largest": [dict(zip(("seconds", "bytes_peak", "size", "hex", "outcome"), item[1:], strict=True))
                        for item in sorted(rec.largest[stage], reverse=True)],
        } for stage in stages}})


def atheris_fuzz(argv: list[str]) -> None:
    import atheris

    rec = Recorder()
    tracemalloc.start()
    atheris.Setup(argv, lambda data: check(rec, bytes(data), True, True))
    atheris.Fuzz()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--deadline", help="stop at this local time (HH:MM) even if short of --inputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default="fuzz", help="name under bench/results/ (default fuzz)")
    args = parser.parse_args()
    deadline = None
    if args.deadline:
        hour, minute = map(int, args.deadline.split(":"))
        deadline = datetime.datetime.now().replace(hour=hour, minute=minute, second=0)
    rec, done, seconds = fuzz(args.inputs, deadline, args.seed)
    report(rec, done, seconds, args.seed, args.results)
    if rec.crashes:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--atheris":
        atheris_fuzz([sys.argv[0], *sys.argv[2:]])
    else:
        main()
