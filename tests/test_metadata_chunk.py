"""The META chunk (spec §5.2): the essential metadata record, its grammar and its checks."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_container import sample

from sgcformat import EssentialMetadata, read
from sgcformat.container import ChunkType, build, parse
from sgcformat.errors import InvalidFieldError

FULL = EssentialMetadata(
    captured=dt.datetime(2023, 3, 9, 7, 5, 59), utc_offset=dt.timedelta(hours=-9, minutes=-30),
    gps=(-33.8567844, 151.2152967), altitude=-12.3, make="Canon", model="EOS R6 Mark II",
    original_name="DSC_0001.JPG")


def test_full_record_round_trips_through_a_file():
    sgc = parse(build(sample().with_metadata(FULL)))
    meta = sgc.metadata
    assert meta.captured == FULL.captured and meta.utc_offset == FULL.utc_offset
    assert meta.gps == pytest.approx(FULL.gps, abs=1e-7)
    assert meta.altitude == pytest.approx(-12.3)
    assert (meta.make, meta.model, meta.original_name) == ("Canon", "EOS R6 Mark II", "DSC_0001.JPG")
    assert sgc.chunk(ChunkType.META).data == FULL.to_bytes()
    assert sgc.with_metadata(None).metadata is None


def test_record_is_a_few_tens_of_bytes():
    """Time, zone, place, altitude, camera and name: 51 bytes, against 1-60 KB of EXIF."""
    assert len(FULL.to_bytes()) == 1 + 5 + 1 + 8 + 2 + (1 + 5) + (1 + 14) + (1 + 12)  # altitude: 2 B


def test_fields_are_stored_in_flag_order_with_their_flags():
    only_name = EssentialMetadata(original_name="a.jpg").to_bytes()
    assert only_name == b"\x40\x05a.jpg"
    date = EssentialMetadata(captured=dt.datetime(1970, 1, 1, 0, 2, 8)).to_bytes()
    assert date == b"\x01\x80\x01"  # 128 s as varint


@pytest.mark.parametrize(
    ("meta", "message"),
    [(EssentialMetadata(), "empty"),
     (EssentialMetadata(utc_offset=dt.timedelta(hours=1)), "utc_offset"),
     (EssentialMetadata(captured=dt.datetime(1969, 12, 31)), "1970"),
     (EssentialMetadata(captured=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)), "naive"),
     (EssentialMetadata(captured=dt.datetime(2020, 1, 1, microsecond=5)), "whole seconds"),
     (EssentialMetadata(captured=dt.datetime(2020, 1, 1), utc_offset=dt.timedelta(minutes=20)),
      "quarter"),
     (EssentialMetadata(gps=(91.0, 0.0)), "gps"),
     (EssentialMetadata(make=""), "1..255"),
     (EssentialMetadata(model="x" * 256), "1..255"),
     (EssentialMetadata(original_name="a\x00b"), "NUL")],
)
def test_writer_refuses_what_the_record_cannot_hold(meta, message):
    with pytest.raises(ValueError, match=message):
        meta.to_bytes()


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00", b"\x80", b"\x02\x04", b"\x01", b"\x01\x80", b"\x01\x00\x00",
     b"\x03\x00\x39", b"\x03\x00\xc7", b"\x04" + bytes(7),
     b"\x04" + (900_000_001).to_bytes(4, "little") + bytes(4),
     b"\x04" + bytes(4) + (-1_800_000_001).to_bytes(4, "little", signed=True),
     b"\x08\x80", b"\x10\x00", b"\x10\x02a", b"\x10\x81\x00a", b"\x20\x01\x00", b"\x40\x01\xff",
     b"\x40\x01a\x00"],
)
def test_reader_rejects_every_malformed_payload(payload):
    with pytest.raises(InvalidFieldError):
        EssentialMetadata.from_bytes(payload)
    with pytest.raises(InvalidFieldError):  # and so does the container, at open
        parse(build(sample().with_chunk(ChunkType.META, payload)))


texts = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                min_size=1, max_size=60).filter(lambda t: len(t.encode()) <= 255)


@given(
    captured=st.none() | st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2999, 12, 31)).map(
        lambda d: d.replace(microsecond=0)),
    quarters=st.none() | st.integers(-56, 56),
    gps=st.none() | st.tuples(st.integers(-900_000_000, 900_000_000),
                              st.integers(-1_800_000_000, 1_800_000_000)),
    decimetres=st.none() | st.integers(-2**27, 2**27 - 1),
    make=st.none() | texts, model=st.none() | texts, name=st.none() | texts,
)
def test_any_record_round_trips_exactly(captured, quarters, gps, decimetres, make, model, name):
    offset = None if quarters is None or captured is None else quarters * dt.timedelta(minutes=15)
    meta = EssentialMetadata(captured, offset, gps and (gps[0] * 1e-7, gps[1] * 1e-7),
                             None if decimetres is None else decimetres / 10, make, model, name)
    if meta == EssentialMetadata():
        return
    data = meta.to_bytes()
    again = EssentialMetadata.from_bytes(data)
    assert again.to_bytes() == data  # canonical: one encoding per record
    assert (again.captured, again.utc_offset, again.make, again.model, again.original_name) == (
        captured, offset, make, model, name)


def test_metadata_survives_a_file_on_disk(tmp_path):
    path = tmp_path / "m.sgc"
    path.write_bytes(build(sample().with_metadata(FULL)))
    assert read(path).metadata.model == "EOS R6 Mark II"
