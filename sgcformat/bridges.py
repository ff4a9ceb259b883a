"""Vocabulary bridges: decode a label map with a profile trained on another vocabulary.

A generative profile knows one vocabulary (``ldm-semantic-512`` COCO-Stuff,
``sd15-controlnet-seg`` ADE20K). A bridge is a reviewed class-mapping table from a
file's vocabulary onto the profile's (``data/bridges/SOURCE__TARGET.tsv``: one row per
source class, the target class, a reason where it is not obvious), applied at decode
time: the file keeps its own labels and its stored profile still has to accept its
vocabulary. For a custom vocabulary (class names carried in the file) the user gives
the table: ``sgc decode --vocab-map FILE`` reads the same format.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from . import registry
from .errors import VocabularyError

#: Vocabularies that some generative profile decodes: the targets of the built-in bridges.
TARGETS = tuple(dict.fromkeys(p.vocab for p in registry.PROFILES.values() if p.vocab))


@dataclass(frozen=True)
class Bridge:
    """A class-id table from ``source`` onto ``target`` (both vocabulary names)."""

    source: str
    target: str
    table: tuple[int, ...]
    reasons: tuple[str, ...]
    origin: str  # "built-in" or the path of the user's map

    def apply(self, ids: np.ndarray) -> np.ndarray:
        """The label map in target class ids (same shape, uint16)."""
        ids = np.asarray(ids)
        if ids.size and int(ids.max()) >= len(self.table):
            raise VocabularyError(f"class {int(ids.max())} is not a class of {self.source}")
        return np.asarray(self.table, dtype=np.uint16)[ids]

    def describe(self) -> str:
        used = len(set(self.table))
        return f"{self.source} → {self.target} ({self.origin} table, {len(self.table)} classes onto {used})"


def _lookup(vocab: registry.Vocabulary) -> dict[str, int]:
    """Class index by name: display names first, then the full (synonym) names."""
    index: dict[str, int] = {}
    for names in (vocab.display_names, vocab.class_names):
        for i, name in enumerate(names):
            index.setdefault(name.casefold(), i)
    return index


def parse_table(text: str, source: registry.Vocabulary, target: registry.Vocabulary,
                origin: str) -> Bridge:
    """Read ``source<TAB>target[<TAB>reason]`` rows (``#`` comments, one optional header row).

    Every source class needs exactly one row, and every name must be a class of its
    vocabulary, so a table can neither drop a class nor point outside the target.
    """
    src, dst = _lookup(source), _lookup(target)
    table: dict[int, int] = {}
    reasons: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) < 2:
            raise VocabularyError(f"{origin}:{number}: expected SOURCE<TAB>TARGET, got {line.strip()!r}")
        if cells[:2] == ["source", "target"]:
            continue
        if cells[0].casefold() not in src:
            raise VocabularyError(f"{origin}:{number}: {cells[0]!r} is not a class of {source.name}")
        if cells[1].casefold() not in dst:
            raise VocabularyError(f"{origin}:{number}: {cells[1]!r} is not a class of {target.name}")
        i = src[cells[0].casefold()]
        if i in table:
            raise VocabularyError(f"{origin}:{number}: {cells[0]!r} is mapped twice")
        table[i], reasons[i] = dst[cells[1].casefold()], cells[2] if len(cells) > 2 else ""
    missing = [source.display_names[i] for i in range(source.size) if i not in table]
    if missing:
        raise VocabularyError(f"{origin}: no row for {len(missing)} class(es) of {source.name}: "
                              + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
    return Bridge(source.name, target.name, tuple(table[i] for i in range(source.size)),
                  tuple(reasons[i] for i in range(source.size)), origin)


@cache
def builtin(source: str, target: str) -> Bridge:
    """The reviewed table from registry vocabulary ``source`` onto ``target`` (identity if equal)."""
    src, dst = registry.vocabulary(source), registry.vocabulary(target)
    if src.name == dst.name:
        return Bridge(src.name, dst.name, tuple(range(src.size)), ("",) * src.size, "identity")
    path = resources.files("sgcformat").joinpath(f"data/bridges/{src.name}__{dst.name}.tsv")
    if not path.is_file():
        raise VocabularyError(f"no bridge from {src.name} to {dst.name}")
    return parse_table(path.read_text(), src, dst, "built-in")


def read_vocab_map(path: Path, source: registry.Vocabulary, target: str) -> Bridge:
    """A user's table (``--vocab-map``) from ``source``'s class names onto ``target``'s."""
    return parse_table(Path(path).read_text(encoding="utf-8"), source, registry.vocabulary(target),
                       str(path))


def for_profile(vocabulary: registry.Vocabulary, profile: str,
                vocab_map: Path | None = None) -> Bridge | None:
    """The bridge a decode of ``vocabulary`` labels with ``profile`` needs (None: none needed).

    Raises :class:`VocabularyError` for a custom vocabulary without ``vocab_map``.
    """
    target = registry.profile(profile).vocab
    if target is None:
        return None  # the preview renders any vocabulary
    if vocab_map is not None:
        return read_vocab_map(vocab_map, vocabulary, target)
    if vocabulary.name == target:
        return None
    if vocabulary.name not in registry.VOCABULARIES:
        raise VocabularyError(f"the file's class list is its own: give --vocab-map FILE to decode it "
                              f"with {profile} (rows: your class<TAB>a {target} class)")
    return builtin(vocabulary.name, target)


def retarget(sgc, profile: str, vocab_map: Path | None = None):
    """``sgc`` as ``profile`` decodes it: same colours, seed and parameters, labels bridged.

    The result is an in-memory :class:`~sgcformat.container.SgcFile` of the profile's
    vocabulary (never written back), so every decoder and the decode cache see an ordinary
    file: a bridged decode has its own cache key.
    """
    from .coding import labels, stream
    from .container import ChunkType, SgcFile

    if profile == sgc.profile and vocab_map is None:
        return sgc
    bridge = for_profile(sgc.vocabulary, profile, vocab_map)
    if bridge is None:
        return dataclasses.replace(sgc, profile=profile)
    target = registry.vocabulary(bridge.target)
    ids = bridge.apply(sgc.label_map)
    chunks = tuple(c for c in sgc.chunks if c.type != ChunkType.VOCAB)  # the class list stays behind
    if sgc.version >= 3:
        coded = {"map_data": stream.encode(ids, target.label_coder_key, sgc.color_map, sgc.color_quality)}
    else:
        coded = {"label_data": labels.encode(ids, target.label_coder_key)}
    result: SgcFile = dataclasses.replace(sgc, vocab=target.name, profile=profile, chunks=chunks, **coded)
    # Colours from version 2 on are coded given the file's own labels (and re-coding them would
    # quantise again): the decoded maps travel with the copy, so nothing decodes its colours.
    result.__dict__.update(label_map=ids, color_map=sgc.color_map)
    return result


def bridges_of(vocabulary: registry.Vocabulary) -> dict[str, str]:
    """``{profile: how its decode reads this vocabulary}`` for ``sgc info``."""
    out = {}
    for name, entry in registry.PROFILES.items():
        if entry.vocab is None:
            continue
        if entry.vocab == vocabulary.name:
            out[name] = "native"
        elif vocabulary.name in registry.VOCABULARIES:
            out[name] = f"bridge {builtin(vocabulary.name, entry.vocab).describe()}"
        else:
            out[name] = "needs --vocab-map FILE"
    return out
