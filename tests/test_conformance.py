"""Mutation test of the conformance suite: every required check is pinned by some vector.

For each check of the reference reader in :data:`REQUIRED` (spec/sgc.md §7, sgc-coding.md),
the function holding it is recompiled from its source with the check edited out, installed
in its place, and the whole vector suite is run against that mutant reader: at least one
vector must then fail. Likewise for two *misreadings* an implementer made from the spec
text (:data:`MISREADINGS`). The pure-Python decoders run (``SGC_PURE_PYTHON``); the native
coder is compared with them in ``tests/test_native.py``.

:data:`IMPLIED` lists checks the spec calls implied: with each removed, every vector still has
its listed outcome, because a later check rejects the same files (spec 1.1 says so).
"""

from __future__ import annotations

import inspect
import textwrap

import pytest
import test_vectors
from test_vectors import check_vector, load_vectors

from sgcformat import chunks, container
from sgcformat.coding import colors, labels, rangecoder

VECTORS = load_vectors()

#: (name, owner, attribute, source snippet, replacement): the snippet must occur exactly once.
REQUIRED = [
    ("1 MiB file size limit", container, "_check_prefix",
     "if n > MAX_FILE_BYTES:", "if False:"),
    ("signature", container, "_check_prefix",
     "if not n or data[:3] != SIGNATURE[:n]:", "if not n:"),
    ("supported version", container, "_check_prefix",
     "if data[3] not in SUPPORTED_VERSIONS:", "if False:"),
    ("varint ends inside the data", chunks, "read_varint",
     "if pos >= end:", "if pos >= len(data):"),
    ("varint at most n bytes", chunks, "read_varint",
     'raise InvalidFieldError(f"{what} varint longer', 'return value, pos  # ('),
    ("varint minimal", chunks, "read_varint", "if byte == 0 and i:", "if False:"),
    ("header bytes present", container, "_read_header", "if end - pos < 4:", "if False:"),
    ("v3 header bytes present", container, "_read_header", "if end - pos < (4 if grids else 1):",
     "if False:"),
    ("end-of-chunks marker present", container, "_read_chunks",
     "        if pos >= end:\n            raise", "        if False:\n            raise"),
    ("chunk order strictly ascending", container, "_read_chunks", "if type_ <= previous:", "if False:"),
    ("v3 announced chunk list not empty", container, "_read_chunks", "if not found and data[3] >= 3:",
     "if False:"),
    ("label length within the file", container, "_read_body",
     "            if n > end - pos:\n                raise TruncatedFileError(f\"label",
     "            if False:\n                raise TruncatedFileError(f\"label"),
    ("CRC-16", container, "parse", "if binascii.crc_hqx(", "if False and binascii.crc_hqx("),
    ("v3 layout reserved bits", container, "_validated",
     "if layout is not None and layout & LAYOUT_RESERVED:", "if False:"),
    ("width range", container, "_validated", "if not 1 <= width <= MAX_DIMENSION:", "if False:"),
    ("v3 aspect-coded height range", container, "_validated",
     "        if not 1 <= height <= MAX_DIMENSION:\n            raise InvalidFieldError(f\"aspect",
     "        if False:\n            raise InvalidFieldError(f\"aspect"),
    ("stored height range", container, "_validated", "elif not 1 <= height <= MAX_DIMENSION:",
     "elif False:"),
    ("v3 height stored only when no aspect code gives it", container, "_validated",
     "elif layout is not None and aspect_code(width, height):", "elif False:"),
    ("v3 grids stored only when not the defaults", container, "_validated",
     "if layout is not None and (label_grid, color_grid, quality) == default_grids(width, height):",
     "if False:"),
    ("vocabulary id known", container, "_validated",
     "if vocab is None:", "vocab = vocab or 'coco-stuff-182'\n    if False:"),
    ("profile id known", container, "_validated",
     "if profile is None:", "profile = profile or _PROFILES[0]\n    if False:"),
    ("profile accepts the vocabulary", container, "_validated",
     "if profile.vocab is not None and profile.vocab != vocab:", "if False:"),
    ("label grid long side range", container, "_validated", "if not 1 <= label_grid <= grid_limit:",
     "if False:"),
    ("colour grid long side range", container, "_validated", "if not 1 <= color_grid <= grid_limit:",
     "if False:"),
    ("colour quality range", container, "_validated",
     "if quality >= colors.QUALITY_LEVELS:", "if False:"),
    ("known chunk payloads checked on reading", container, "_validated", "check(c.data)", "None"),
    ("unknown critical chunk", container, "_validated", "elif c.type & CRITICAL_BIT:", "elif False:"),
    ("VOCAB exactly with vocabulary 15", container, "_validated", "if has_vocab != custom:", "if False:"),
    ("payload consumed exactly", chunks, "_consumed", "if pos != len(data):", "if False:"),
    ("SEED range", chunks, "parse_seed", "if seed > MAX_SEED:", "if False:"),
    ("PARAMS steps range", chunks, "parse_params", "if steps > MAX_STEPS:", "if False:"),
    ("PARAMS strength range", chunks, "parse_params", "if strength > 100:", "if False:"),
    ("PARAMS not all default", chunks, "parse_params", "if not (steps or strength or guidance):",
     "if False:"),
    ("PARAMS fields present", chunks, "parse_params", "if len(data) - pos < 2:", "if False:"),
    ("META reserved bit and some field", chunks.EssentialMetadata, "from_bytes",
     "if flags & 0x80 or not flags:", "if False:"),
    ("META offset needs a capture time", chunks.EssentialMetadata, "from_bytes",
     "if flags & 0b10 and not flags & 0b01:", "if False:"),
    ("META offset range", chunks.EssentialMetadata, "from_bytes",
     "if abs(quarters) > _MAX_OFFSET_QUARTERS:", "if False:"),
    ("META GPS range", chunks.EssentialMetadata, "from_bytes",
     "if abs(lat) > 900_000_000 or abs(lon) > 1_800_000_000:", "if False:"),
    ("META text length", chunks.EssentialMetadata, "from_bytes", "if not 1 <= n <= 255:", "if False:"),
    ("no forbidden bytes in text", chunks, "_text", "if any(b in raw for b in forbidden):", "if False:"),
    ("text is UTF-8", chunks, "_text", 'raw.decode("utf-8")', 'raw.decode("latin-1")'),
    ("VOCAB flags", chunks, "parse_vocab", "if flags & ~_DEFLATED:", "if False:"),
    ("VOCAB count range", chunks, "parse_vocab", "if not 1 <= count <= MAX_CUSTOM_CLASSES:", "if False:"),
    ("VOCAB count matches the names", chunks, "parse_vocab", "if len(raw_names) != count:", "if False:"),
    ("VOCAB name length", chunks, "parse_vocab", "if not 1 <= len(raw) <= MAX_CLASS_NAME_BYTES:",
     "if False:"),
    ("VOCAB names unpadded", chunks, "parse_vocab", "if name != name.strip():", "if False:"),
    ("VOCAB names distinct", chunks, "parse_vocab", "if len(set(names)) != len(names):", "if False:"),
    ("VOCAB deflate stream ends with the payload", chunks, "_inflate",
     "if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:", "if False:"),
    ("end of stream: no unread bytes (coding §2.6 a)", rangecoder.Decoder, "finish",
     "if len(self._data) > self._pos:", "if False:"),
    ("end of stream: no final 0x00 (coding §2.6 b)", rangecoder.Decoder, "finish",
     "if self._data and self._data[-1] == 0:", "if False:"),
    ("class count k <= V (coding §3.1)", labels, "_decode_class_set", "if k > vocab_size:", "if False:"),
    ("class set not empty (coding §3.1)", labels, "_decode_class_set", "if not present:", "if False:"),
    ("escape rank r < rest (coding §3.3)", labels, "_code_other", "if r >= rest:", "if False:"),
    ("colour level limit (coding §4.4)", colors._BandCoder, "_value",
     "if abs(offset + e) > limit:", "if False:"),
]

#: Checks a later check makes redundant for the outcome (spec 1.1 says which and why).
IMPLIED = [
    ("initial code 0xFFFFFFFF (coding §2.2): every bit then decodes as 1, which the prefix "
     "limits reject", rangecoder.Decoder, "__init__", "if self._code == MASK32:", "if False:"),
    ("class-count prefix limit (coding §3.1): a longer prefix gives k > V", labels,
     "_decode_class_set", "if e > limit:", "if False:"),
    ("colour escape prefix limit (coding §4.4): a longer prefix exceeds the level limit",
     colors, "_decode_magnitude", "if n > _ESCAPE_PREFIX:", "if False:"),
    ("a fixed-size payload field present (§5): a cut field moves the position past the payload's "
     "end, which the exact-consumption rule rejects", chunks, "_take", "if len(data) - pos < n:",
     "if False:"),
    ("room for the CRC (§7 step 4): a 4- or 5-byte file also ends inside its width", container,
     "_check_prefix", "if n < 6:", "if False:"),
    ("v3 layout byte present (§7 step 5): a file that ends before it also ends inside its width",
     container, "_read_header", "if end <= 4:", "if False:"),
]


def _mutant(owner, attribute: str, old: str, new: str):
    """``owner.attribute`` recompiled from its source with ``old`` replaced by ``new``."""
    original = inspect.getattr_static(owner, attribute)
    function = getattr(original, "__func__", original)
    source = textwrap.dedent(inspect.getsource(function))
    assert source.count(old) == 1, f"{owner.__name__}.{attribute}: the check {old!r} moved"
    namespace: dict = {}
    exec(compile(source.replace(old, new), inspect.getsourcefile(function), "exec"),
         function.__globals__, namespace)
    return namespace[function.__name__]


def _install(monkeypatch, owner, attribute: str, old: str, new: str) -> None:
    before = getattr(owner, attribute)
    monkeypatch.setattr(owner, attribute, _mutant(owner, attribute, old, new))
    for module in (container, chunks, labels, colors, rangecoder, test_vectors):  # imported names
        if module is not owner and getattr(module, attribute, None) is before:
            monkeypatch.setattr(module, attribute, getattr(owner, attribute))
    for key, check in list(container._PAYLOAD_CHECKS.items()):  # the dispatch table holds references
        if check == before:
            monkeypatch.setitem(container._PAYLOAD_CHECKS, key, getattr(owner, attribute))


def _failing_vectors() -> list[str]:
    failing = []
    for name, record, data in VECTORS:
        try:
            check_vector(record, data)
        except Exception:  # any failure counts: the mutant was noticed
            failing.append(name)
    return failing


@pytest.fixture(autouse=True)
def _pure_python(monkeypatch):
    monkeypatch.setenv("SGC_PURE_PYTHON", "1")


def test_the_unmutated_reader_passes_every_vector():
    assert _failing_vectors() == []


@pytest.mark.parametrize(("name", "owner", "attribute", "old", "new"), REQUIRED,
                         ids=[m[0] for m in REQUIRED])
def test_removing_a_required_check_fails_some_vector(monkeypatch, name, owner, attribute, old, new):
    _install(monkeypatch, owner, attribute, old, new)
    assert _failing_vectors(), f"no vector notices a reader without: {name}"


def test_misreading_ignore_the_implied_candidate(monkeypatch):
    """Coding §3.3 step 4 read as 'every candidate costs a bit'."""
    _install(monkeypatch, labels, "_code_cells",
             "implied = len(cands) - 1 if len(cands) == k else len(cands)", "implied = len(cands)")
    assert _failing_vectors()


def test_misreading_colours_start_a_fresh_decoder_in_version_3(monkeypatch):
    """Coding §7: the colour map goes on in the label map's decoder, it does not start over."""
    _install(monkeypatch, colors, "decode", "coder = _BandCoder(Decoder(data, after), base, version)",
             "coder = _BandCoder(Decoder(data), base, version)")
    assert _failing_vectors()


def test_misreading_mirror_after_transposing_back(monkeypatch):
    """Coding §3.3: the decoder undoes the mirror first, then the transposition."""
    mirror = "        if mirror:\n            local = local[:, ::-1]\n"
    transpose = "        if transpose:\n            local = local.T\n"
    _install(monkeypatch, labels, "_decode", mirror + transpose, transpose + mirror)
    assert _failing_vectors()


def test_misreading_aspect_height_rounded_down(monkeypatch):
    """Spec §4.4: the height of an aspect code rounds half up, not down."""
    _install(monkeypatch, container, "aspect_height", "return (2 * width * h + w) // (2 * w)",
             "return width * h // w")
    assert _failing_vectors()


def test_misreading_untrained_match_contexts_at_1024(monkeypatch):
    """Coding §3.2: MATCH q = 0 contexts start at p = 512, not the range coder's usual 1024."""
    monkeypatch.setattr(labels, "_MATCH_INIT", labels._initial_match_contexts(labels._INIT_TABLE, 1024))
    assert _failing_vectors()


@pytest.mark.parametrize(("why", "owner", "attribute", "old", "new"), IMPLIED,
                         ids=[m[0][:40] for m in IMPLIED])
def test_implied_checks_change_no_outcome(monkeypatch, why, owner, attribute, old, new):
    _install(monkeypatch, owner, attribute, old, new)
    assert _failing_vectors() == []
