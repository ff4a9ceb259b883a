"""What a run did, as numbers (:class:`Summary`) and as one screen of text; and the progress bar."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass
class Summary:
    """Counts of this run; byte totals over the whole archive (every ``ok`` row of the manifest)."""

    command: str
    files: int = 0
    done: int = 0
    already_done: int = 0
    failed: int = 0
    skipped: int = 0
    source_bytes: int = 0
    sgc_bytes: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    failures: list[dict] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        return self.source_bytes / self.sgc_bytes if self.sgc_bytes else None

    @property
    def files_per_s(self) -> float:
        """Files walked per second, done earlier or now: a resume's checking speed too."""
        return self.files / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {**vars(self), "ratio": self.ratio, "files_per_s": self.files_per_s}

    def text(self, max_failures: int = 10) -> str:
        verb = "would encode" if self.dry_run else ("encoded" if self.command == "encode" else "restored")
        lines = [
            f"sgc archive {self.command}: {self.files} files in {self.seconds:.1f} s "
            f"({self.files_per_s:.1f} files/s)",
            f"  {verb} {self.done}, already done {self.already_done}, failed {self.failed}, "
            f"skipped {self.skipped}",
        ]
        if self.sgc_bytes and self.command == "encode":
            saved = 100 * (1 - self.sgc_bytes / self.source_bytes) if self.source_bytes else 0.0
            lines.append(f"  archive: {human_bytes(self.source_bytes)} of photos -> "
                         f"{human_bytes(self.sgc_bytes)} of .sgc (ratio {self.ratio:.0f}:1, "
                         f"{saved:.2f} % saved)")
        elif self.sgc_bytes:
            lines.append(f"  restored: {human_bytes(self.source_bytes)} of .sgc -> "
                         f"{human_bytes(self.sgc_bytes)} of images")
        if self.failures:
            lines.append(f"  failures ({min(max_failures, len(self.failures))} of {len(self.failures)}; "
                         "all in the manifest):")
            lines += [f"    {f['source']}: {f['error']}" for f in self.failures[:max_failures]]
        return "\n".join(lines)


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


class Progress:
    """A tqdm bar (files/s is its rate) with the bytes saved so far; silent when disabled."""

    def __init__(self, total: int, enabled: bool, description: str):
        self.bar = None
        self.saved = 0
        if enabled and total:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, desc=description, unit="file", file=sys.stderr,
                            dynamic_ncols=True, disable=None)

    def update(self, source_bytes: int | None, output_bytes: int | None) -> None:
        if self.bar is None:
            return
        if source_bytes and output_bytes:
            self.saved += source_bytes - output_bytes
        self.bar.set_postfix_str(f"saved {human_bytes(self.saved)}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
