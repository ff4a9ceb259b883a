"""Registries of vocabularies and decoder profiles, with their numeric ids in files.

A file names its vocabulary and decoder profile by a 4-bit id each (spec §4.2).
These tables are the *allow-list*: a reader maps ids to entries here and nowhere
else, so a file can never point the decoder at a model of its own choosing.
The model components of each profile (hub ids, revisions, sampling defaults)
live in :mod:`sgcformat.models.profiles`; this module stays free of heavy imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib import resources

import numpy as np

from .errors import InvalidFieldError, VocabularyError


@dataclass(frozen=True)
class Vocabulary:
    """A list of semantic classes, and how its label PNGs encode them.

    Class ids inside SGC are ``0 .. size-1``. ``png_offset`` and ``png_unlabeled``
    describe the single-channel label PNGs of the matching dataset: a pixel value
    ``v`` is class ``v - png_offset``; ``png_unlabeled`` (if any) marks pixels
    without a label.
    """

    id: int
    name: str
    size: int
    png_offset: int = 0
    png_unlabeled: tuple[int, ...] = ()
    description: str = ""

    def _names_file(self, suffix: str) -> tuple[str, ...]:
        text = resources.files("sgcformat").joinpath(f"data/vocab/{self.name}{suffix}").read_text()
        names = tuple(line.strip() for line in text.splitlines() if line.strip())
        assert len(names) == self.size, (self.name, suffix, len(names))
        return names

    @cached_property
    def class_names(self) -> tuple[str, ...]:
        return self._names_file(".txt")

    @cached_property
    def display_names(self) -> tuple[str, ...]:
        """One short name per class, for prompts, legends and ``sgc info``.

        ``class_names`` keep the datasets' synonym lists, which cannot be split back
        (ADE20K's use ``;`` inside names too); these are the datasets' own short names
        (mmseg's ``CLASSES`` for ADE20K).
        """
        return self._names_file(".display.txt")

    def labels_from_png(self, values: np.ndarray) -> np.ndarray:
        """Map a label PNG's pixel values to class ids; unlabeled pixels become ``-1``.

        Raises :class:`VocabularyError` for values that are neither a class nor unlabeled.
        """
        values = np.asarray(values)
        if values.ndim != 2 or not np.issubdtype(values.dtype, np.integer):
            raise VocabularyError(f"a label map must be single-channel integers, got {values.dtype} "
                                  f"{values.shape}")
        # One table look-up per pixel: value -> class id, -1 unlabeled, -2 invalid.
        top = int(values.max()) if values.size else 0
        if values.size and values.min() < 0:
            bad_value = int(values.min())
        else:
            table = np.full(top + 1, -2, dtype=np.int32)
            first, last = self.png_offset, min(top, self.png_offset + self.size - 1)
            table[first:last + 1] = np.arange(last - first + 1, dtype=np.int32)
            table[[v for v in self.png_unlabeled if v <= top]] = -1
            ids = np.take(table, values)  # ~2x faster than table[values] on large maps
            invalid = ids == -2
            bad_value = int(values[invalid][0]) if invalid.any() else None
        if bad_value is not None:
            raise VocabularyError(
                f"label value {bad_value} is not a class of {self.name} "
                f"(expected {self.png_offset}..{self.png_offset + self.size - 1}"
                + (f" or unlabeled {list(self.png_unlabeled)})" if self.png_unlabeled else ")")
            )
        return ids

    @property
    def label_coder_key(self) -> str | int:
        """What :mod:`sgcformat.coding.labels` takes for this vocabulary: its name (a registry
        vocabulary may have a class-presence prior), or for a custom one its bare size."""
        return self.name


#: Vocabulary id reserved for file-defined class lists (spec §9, VOCAB chunk §5.3).
CUSTOM_VOCAB_ID = 15
CUSTOM_VOCAB_NAME = "custom"


@dataclass(frozen=True)
class CustomVocabulary(Vocabulary):
    """A class list no registry knows, carried by the file itself (vocabulary id 15).

    Label PNGs hold class ids directly: value ``v`` (0..size-1) is class ``v``; 255 (8-bit,
    up to 255 classes) or 65535 (16-bit) marks unlabeled pixels. Build with :meth:`from_names`.
    """

    names: tuple[str, ...] = ()

    @classmethod
    def from_names(cls, names) -> CustomVocabulary:
        names = tuple(names)
        unlabeled = 255 if len(names) <= 255 else 65535
        return cls(CUSTOM_VOCAB_ID, CUSTOM_VOCAB_NAME, len(names), 0, (unlabeled,),
                   "class list stored in the file", names)

    @classmethod
    def from_text(cls, text: str) -> CustomVocabulary:
        """One class name per line (blank lines ignored), as ``sgc encode --vocab-file`` reads."""
        return cls.from_names(line.strip() for line in text.splitlines() if line.strip())

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.names

    @property
    def display_names(self) -> tuple[str, ...]:
        return self.names

    @property
    def label_coder_key(self) -> int:
        return self.size


VOCABULARIES: dict[str, Vocabulary] = {
    v.name: v
    for v in (
        Vocabulary(0, "coco-stuff-182", 182, 0, (255,), "COCO-Stuff ids 1..182 as 0..181"),
        Vocabulary(1, "ade20k-150", 150, 1, (0,), "ADE20K SceneParse150, 0 = wall"),
        Vocabulary(2, "cityscapes-34", 34, 0, (), "Cityscapes gtFine labelIds 0..33"),
        Vocabulary(3, "camvid-11", 11, 0, (11,), "CamVid 11 classes (SegNet order)"),
        Vocabulary(4, "loveda-7", 7, 1, (0,), "LoveDA land-cover classes"),
    )
}


@dataclass(frozen=True)
class ProfileEntry:
    """A decoder profile as the file format knows it: an id, a name, a vocabulary."""

    id: int
    name: str
    vocab: str | None
    description: str = ""


PROFILES: dict[str, ProfileEntry] = {
    p.name: p
    for p in (
        ProfileEntry(0, "preview", None, "no generative model: decoders show the preview"),
        ProfileEntry(1, "ldm-semantic-512", "coco-stuff-182", "CompVis LDM semantic synthesis (paper)"),
        ProfileEntry(2, "sd15-controlnet-seg", "ade20k-150", "Stable Diffusion 1.5 + ControlNet seg"),
    )
}

#: The vocabulary (and so, below, the profile) of an encode that names neither.
DEFAULT_VOCAB = "coco-stuff-182"

#: The profile a vocabulary gets when the caller names none.
DEFAULT_PROFILE_FOR_VOCAB = {
    "coco-stuff-182": "ldm-semantic-512",
    "ade20k-150": "sd15-controlnet-seg",
}


_VOCAB_BY_KEY = {key: v for v in VOCABULARIES.values() for key in (v.name, v.id)}
_PROFILE_BY_KEY = {key: p for p in PROFILES.values() for key in (p.name, p.id)}


def vocabulary(name_or_id: str | int | Vocabulary) -> Vocabulary:
    """Look a vocabulary up by name or file id (a :class:`Vocabulary` is returned as is)."""
    if isinstance(name_or_id, Vocabulary):
        return name_or_id
    if name_or_id in _VOCAB_BY_KEY:
        return _VOCAB_BY_KEY[name_or_id]
    kind = InvalidFieldError if isinstance(name_or_id, int) else VocabularyError
    raise kind(f"unknown vocabulary {name_or_id!r} (known: {', '.join(VOCABULARIES)})")


def profile(name_or_id: str | int) -> ProfileEntry:
    """Look a decoder profile up by name or file id."""
    if name_or_id in _PROFILE_BY_KEY:
        return _PROFILE_BY_KEY[name_or_id]
    kind = InvalidFieldError if isinstance(name_or_id, int) else ValueError
    raise kind(f"unknown decoder profile {name_or_id!r} (known: {', '.join(PROFILES)})")


def check_pair(profile_name: str, vocab_name: str) -> None:
    """Raise unless the profile accepts label maps of this vocabulary."""
    entry = profile(profile_name)
    if entry.vocab is not None and entry.vocab != vocab_name:
        raise VocabularyError(
            f"profile {profile_name} needs vocabulary {entry.vocab}, not {vocab_name}"
        )
