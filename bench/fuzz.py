"""Fuzz the reader: every input must either parse or raise an SgcFormatError, quickly.

    python bench/fuzz.py [SECONDS]          # mutation fuzzing with the standard library
    python bench/fuzz.py --atheris [ARGS]   # coverage-guided, when `pip install atheris` works

Inputs are mutated conformance vectors (bit flips, byte edits, splices, truncations, insertions),
half of them with the CRC repaired so that mutations reach the header checks and map decoders.
A crash is any other exception, or a decode taking over a second; it is saved under bench/results/.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from sgcformat.container import crc16, parse
from sgcformat.errors import SgcFormatError

VECTORS = Path(__file__).resolve().parents[1] / "spec" / "vectors"
SEEDS = [p.read_bytes() for p in sorted(VECTORS.glob("*/*.sgc"))]


def check(data: bytes) -> None:
    """The property under test: parse + decode maps ends in a value or an SgcFormatError."""
    start = time.perf_counter()
    try:
        sgc = parse(data)
        sgc.label_map, sgc.color_map  # noqa: B018
    except SgcFormatError:
        pass
    if time.perf_counter() - start > 1.0:
        raise TimeoutError("decode took over a second")


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        if op == 0 and b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2:
            at = rng.randrange(len(b) + 1)
            b[at:at] = rng.randbytes(rng.randrange(1, 8))
        elif op == 3 and b:
            del b[rng.randrange(len(b)):]
        else:
            other = rng.choice(SEEDS)
            cut = rng.randrange(len(other) + 1)
            b = b[: rng.randrange(len(b) + 1)] + other[cut:]
    if rng.random() < 0.5 and len(b) > 2:  # repair the CRC so the mutation reaches the map decoders
        b[-2:] = crc16(bytes(b[:-2])).to_bytes(2, "little")
    return bytes(b)


def stdlib_fuzz(seconds: float) -> int:
    rng = random.Random(0)
    end = time.monotonic() + seconds
    runs = 0
    while time.monotonic() < end:
        data = mutate(rng, rng.choice(SEEDS))
        try:
            check(data)
        except Exception:
            out = Path(__file__).parent / "results" / f"fuzz-crash-{runs}.sgc"
            out.write_bytes(data)
            print(f"crash saved to {out}")
            raise
        runs += 1
    print(f"{runs} inputs in {seconds:.0f} s, no crash")
    return runs


def atheris_fuzz(argv: list[str]) -> None:
    import atheris

    atheris.Setup(argv, lambda data: check(bytes(data)))
    atheris.Fuzz()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--atheris":
        atheris_fuzz([sys.argv[0], *sys.argv[2:]])
    else:
        stdlib_fuzz(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0)
