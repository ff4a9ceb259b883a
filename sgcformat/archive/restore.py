"""``decode_tree``: a folder of ``.sgc`` files → a folder of images, resumable like encoding.

``OUT/<relative path without .sgc>`` keeps the photo's original name and format by default
(``a.jpg.sgc`` → ``a.jpg``); ``--format png`` gives ``a.png`` instead, and two files that
would meet in one name are refused, one of them recorded as failed. Previews need no model;
the generative decode runs the decoder in batches, grouped by generation size.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from PIL import Image

from ..container import EXTENSION, parse
from . import durable, tree
from .encode import ENGINES, run_engine
from .engines import Cpu, Model
from .items import Item, Task, guarded
from .manifest import Manifest, Row
from .pipeline import drive, dry_summary, plan
from .summary import Summary

FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


@dataclass(frozen=True)
class DecodeOptions:
    """The settings of one decode run."""

    preview: bool = True
    seeds: int = 1
    format: str | None = None
    steps: int | None = None
    device: str | None = None
    fast: bool = False


def output_rel(rel: str, fmt: str | None) -> str:
    """``a/b.jpg.sgc`` → ``a/b.jpg`` (or ``a/b.png`` for ``fmt='png'``; ``a/b.jpg.png`` when
    Pillow cannot write the original format)."""
    original = rel[: -len(EXTENSION)] if rel.endswith(EXTENSION) else rel
    if fmt is not None:
        stem = original.rsplit(".", 1)[0] if "." in original.rpartition("/")[2] else original
        return f"{stem}.{'jpg' if fmt == 'jpeg' else fmt}"
    return original if _writable_format(original) else original + ".png"


def _writable_format(name: str) -> str | None:
    Image.init()
    fmt = Image.registered_extensions().get(os.path.splitext(name)[1].lower())
    return fmt if fmt in Image.SAVE else None


def _seed_paths(out: str, first: int, count: int) -> list[tuple[int, str]]:
    if count == 1:
        return [(first, out)]
    base, ext = os.path.splitext(out)
    return [(first + k, f"{base}-seed{first + k}{ext}") for k in range(count)]


def _load(item: Item, options: DecodeOptions) -> None:
    data = Path(item.task.src).read_bytes()
    item.nbytes = len(data)
    sgc = parse(data)
    item.data["sgc"] = sgc
    if options.preview:
        from ..preview_decoder import render_preview

        item.data["images"] = [render_preview(sgc)] * options.seeds


def _save(item: Item, options: DecodeOptions) -> None:
    sgc = item.data["sgc"]
    first = sgc.seed if sgc.seed is not None else 0
    written = 0
    for (_, path), image in zip(_seed_paths(item.task.out, first, options.seeds), item.data["images"],
                                strict=True):
        fmt = FORMATS.get(options.format or "") or _writable_format(path) or "PNG"
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        durable.write(path, buffer.getvalue())
        item.written.append(str(path))
        written += buffer.tell()
    item.row = Row(item.task.rel, "ok", output_rel(item.task.rel, options.format), item.nbytes, written, None,
                   None, sum(item.timings.values()))
    item.data.clear()  # the images need not travel back to the driver


def load_chunk(options: DecodeOptions, tasks: list[Task]) -> list[Item]:
    return [guarded(Item(t), _load, options) for t in tasks]


def save_chunk(options: DecodeOptions, items: list[Item]) -> list[Item]:
    return [guarded(item, _save, options) for item in items]


def preview_chunk(options: DecodeOptions, tasks: list[Task]) -> list[Item]:
    return save_chunk(options, load_chunk(options, tasks))


class Generator:
    """The generative decoder, loaded once per owner, run on whole batches of different files.

    :func:`sgcformat.models.decode.generate_files` stacks the files of one generation size
    into one pipeline call. If a batch fails, its files are retried one by one, so one bad
    file fails alone.
    """

    def __init__(self, options: DecodeOptions):
        self.options = options

    def __call__(self, items: list[Item]) -> list[Item]:
        live = [item for item in items if item.live()]
        if not live:
            return items
        try:
            images = self._generate(live)
        except Exception:  # one bad file must not fail the others: retry them one by one
            for item in live:
                guarded(item, self._one)
        else:
            for item, file_images in zip(live, images, strict=True):
                item.data["images"] = file_images
        return items

    def _one(self, item: Item) -> None:
        item.data["images"] = self._generate([item])[0]

    def _generate(self, items: list[Item]) -> list[list]:
        from ..models.decode import generate_files

        t = time.perf_counter()
        sgcs = [item.data["sgc"] for item in items]
        seeds = [list(range(s.seed or 0, (s.seed or 0) + self.options.seeds)) for s in sgcs]
        images = generate_files(sgcs, seeds, steps=self.options.steps, device=self.options.device,
                                fast=self.options.fast)
        share = (time.perf_counter() - t) / len(items)
        for item in items:
            item.timings["generate"] = share
        return images


def decode_tree(
    dest: str | os.PathLike,
    out: str | os.PathLike,
    *,
    preview: bool = False,
    seeds: int = 1,
    format: str | None = None,
    steps: int | None = None,
    workers: int = 1,
    batch_size: int = 4,
    device: str | None = None,
    fast: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    dry_run: bool = False,
    progress: bool = False,
) -> Summary:
    """Restore every ``.sgc`` under ``dest`` into ``out``; resumable (``out/manifest.sqlite``)."""
    start = time.perf_counter()
    dest, out = Path(dest), Path(out)
    tree.check_roots(dest, out)
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    if seeds < 1 or workers < 1 or batch_size < 1:
        raise ValueError("seeds, workers and batch size must be at least 1")
    options = DecodeOptions(preview, seeds, format, steps, device, fast)
    entries = [e for e in tree.walk(dest) if e.error is not None or e.rel.endswith(EXTENSION)]

    def output_of(rel: str) -> str:
        return _seed_paths(output_rel(rel, format), 0, 1)[0][1]

    def make_task(rel: str) -> Task:
        return Task(rel, str(dest / rel), str(out / output_rel(rel, format)))

    if preview:
        the_stages = [Cpu(partial(preview_chunk, options))]
    else:
        the_stages = [Cpu(partial(load_chunk, options)), Model(partial(Generator, options)),
                      Cpu(partial(save_chunk, options))]
    if dry_run:
        return dry_summary("decode", plan(entries, {}, out, make_task, output_of), None)
    out.mkdir(parents=True, exist_ok=True)
    with Manifest(out) as manifest:
        the_plan = plan(entries, manifest.done() if seeds == 1 else {}, out, make_task, output_of)
        manifest.start_run("decode", {**asdict(options), "dest": str(dest.resolve()), "engine": engine,
                                      "workers": workers, "batch_size": batch_size})
        summary = Summary("decode", files=the_plan.files, already_done=the_plan.already_done)
        results = run_engine(engine, the_stages, the_plan.tasks, workers=workers,
                             batch_size=batch_size, ray_address=ray_address)
        return drive(manifest, the_plan, results, summary, progress, start)
