"""Exception hierarchy of SGC.

Every problem with a file's bytes raises a subclass of :class:`SgcFormatError`
(itself a :class:`ValueError`), so callers can catch one class for "this is not
a valid .sgc file" and still tell the cases apart. The spec (``spec/sgc.md``,
section "Errors") names these classes; the conformance vectors rely on them.
"""

from __future__ import annotations


class SgcError(Exception):
    """Base class of every error raised by :mod:`sgcformat`."""


class SgcFormatError(SgcError, ValueError):
    """The bytes are not a valid SGC file."""


class BadSignatureError(SgcFormatError):
    """The file does not start with the SGC signature."""


class UnsupportedVersionError(SgcFormatError):
    """The signature is right but the major version is not one this reader implements."""


class TruncatedFileError(SgcFormatError):
    """The file ends before a field or payload it declares."""


class ChecksumError(SgcFormatError):
    """The CRC-16 at the end of the file does not match its contents."""


class InvalidFieldError(SgcFormatError):
    """A header or chunk-payload field is out of range or malformed (spec §11): the one class
    for out-of-range fields in both spec documents, also non-minimal or overlong varints,
    chunks out of order, and a VOCAB chunk without vocabulary 15 (or the reverse)."""


class UnknownCriticalChunkError(SgcFormatError):
    """A chunk marked critical has a type this reader does not know."""


class LimitExceededError(SgcFormatError):
    """A declared size exceeds the limits a reader enforces before allocating."""


class BitstreamError(SgcFormatError):
    """A coded label or colour map does not decode to a valid map."""


class VocabularyError(SgcError, ValueError):
    """A label map holds class ids outside its vocabulary, or the vocabulary is unknown.

    An encoder-side error, not a file error (spec §11): files never raise it.
    """


class BudgetError(SgcError, ValueError):
    """No encoding of the image fits the requested byte budget."""


class ModelNotFoundError(SgcError, OSError):
    """A decoder or segmenter model is not available locally and cannot be fetched."""


class DecodeCancelled(SgcError):
    """A generative decode was cancelled through its ``cancel`` event."""


class MapShapeError(SgcError, ValueError):
    """A label map or grid size does not follow the image's size or aspect ratio."""
