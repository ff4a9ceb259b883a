"""EXIF → essential metadata → EXIF, on the corpus photos with real camera EXIF."""

from __future__ import annotations

import datetime as dt

import pytest
from PIL import Image

from sgcformat import photo_metadata
from sgcformat.container import EssentialMetadata


@pytest.fixture(scope="module")
def cameras(corpus):
    return sorted((corpus / "exif" / "cameras").glob("*.jpg"))


def test_camera_fields_are_extracted(cameras):
    by_name = {}
    for path in cameras:
        with Image.open(path) as im:
            by_name[path.name] = photo_metadata.extract(im.getexif(), path.name)
    kodak = by_name["Kodak_CX7530.jpg"]
    assert kodak.captured == dt.datetime(2005, 8, 13, 9, 47, 23)
    assert kodak.make == "EASTMAN KODAK COMPANY" and kodak.original_name == "Kodak_CX7530.jpg"
    lat, lon = kodak.gps  # S 0° 22.278', E 36° 3.385'
    assert lat == pytest.approx(-22.278 / 60, abs=1e-6) and lon == pytest.approx(36 + 3.385 / 60, abs=1e-6)
    assert by_name["Nikon_D70.jpg"].model == "NIKON D70"
    assert by_name["Pentax_K10D.jpg"].model == "PENTAX K10D"  # EXIF padding stripped
    assert all(m.captured is not None and m.make for m in by_name.values())


def test_record_is_a_few_tens_of_bytes_and_round_trips_through_exif(cameras):
    sizes = []
    for path in cameras:
        with Image.open(path) as im:
            meta = photo_metadata.extract(im.getexif(), path.name)
            full = len(im.info["exif"])
        data = meta.to_bytes()
        sizes.append(len(data))
        assert len(data) < full / 10
        assert EssentialMetadata.from_bytes(data).to_bytes() == data  # equal to the record's 1e-7°
        exif = Image.Exif()
        exif.load(photo_metadata.to_exif(EssentialMetadata.from_bytes(data)))
        assert photo_metadata.extract(exif).to_bytes() == data
    assert sum(sizes) / len(sizes) < 100


def test_values_the_record_cannot_hold_are_dropped():
    exif = Image.Exif()
    exif.get_ifd(0x8769).update({0x9003: "1969:12:31 23:00:00", 0x9011: "+05:07"})
    exif[0x010F] = "  Acme\x00\x00 "
    meta = photo_metadata.extract(exif)
    assert meta == EssentialMetadata(make="Acme")
    exif.get_ifd(0x8769).update({0x9003: "2024:02:29 12:00:00", 0x9011: "-03:30"})
    meta = photo_metadata.extract(exif)
    assert meta.captured == dt.datetime(2024, 2, 29, 12) and meta.utc_offset == -dt.timedelta(hours=3.5)
    assert photo_metadata.extract(Image.Exif()) is None


def test_keep_choices(corpus):
    path = corpus / "exif" / "cameras" / "Canon_40D.jpg"
    with Image.open(path) as im:
        assert photo_metadata.chunks_for(im, path.name, "none") == ()
        (meta,) = photo_metadata.chunks_for(im, path.name, "essential")
        kinds = [c.type for c in photo_metadata.chunks_for(im, path.name, "all")]
    assert EssentialMetadata.from_bytes(meta.data).model == "Canon EOS 40D"
    assert kinds[0] == meta.type and 0x10 in kinds  # META plus the original EXIF
