"""QR payload (VN_CARD.md "QR code") and QR decoding from images, with and without an ECI designator."""
from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from reader.capture import (
    QRGeneration,
    QRPayloadError,
    decode_qr,
    derive_access_keys,
    format_qr_payload,
    parse_qr_payload,
    repair_charset,
)

SPECIMENS = json.loads((Path(__file__).parent / "vectors/capture/specimens.json").read_text("utf-8"))["specimens"]


def qr_image(text: str, eci: bool, scale: int = 4) -> np.ndarray:
    code = segno.make(text, encoding="utf-8", eci=eci, error="m", micro=False)
    buf = io.BytesIO()
    code.save(buf, kind="png", scale=scale)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))


@pytest.mark.parametrize("spec", SPECIMENS, ids=lambda s: s["name"])
@pytest.mark.parametrize("layout", ["qr_2021", "qr_2024"])
def test_parse_specimens_and_format_round_trip(spec, layout):
    card = parse_qr_payload(spec[layout])
    assert card.personal_id == spec["personal_id"]
    assert card.cmnd == spec["cmnd"]
    assert card.full_name == spec["full_name"]
    assert card.date_of_birth == dt.date.fromisoformat(spec["date_of_birth"])
    assert card.sex == spec["sex"]
    assert card.address == spec["place_of_residence"]
    assert card.date_of_issue == dt.date.fromisoformat(spec["date_of_issue"])
    assert card.generation is (QRGeneration.CCCD_2021 if layout == "qr_2021" else QRGeneration.CARD_2024)
    assert format_qr_payload(card) == spec[layout]
    other = "qr_2024" if layout == "qr_2021" else "qr_2021"
    other_gen = QRGeneration.CARD_2024 if layout == "qr_2021" else QRGeneration.CCCD_2021
    assert format_qr_payload(card, other_gen) == spec[other]


@pytest.mark.parametrize("spec", SPECIMENS, ids=lambda s: s["name"])
def test_derived_access_keys_match_the_mrz(spec):
    keys = derive_access_keys(parse_qr_payload(spec["qr_2024"]))
    assert keys.can == spec["can"]
    assert keys.document_number == spec["document_number"]
    assert keys.mrz_information == spec["mrz_information"]
    assert keys.no_expiry is (spec["date_of_expiry"] is None)
    assert keys.date_of_expiry == spec["mrz"][1][8:14]
    assert keys.expiry_derived
    # secrets and personal data stay out of reprs
    assert spec["can"] not in repr(keys) and spec["personal_id"] not in repr(parse_qr_payload(spec["qr_2021"]))


def test_empty_cmnd_is_kept_as_a_field():
    card = parse_qr_payload(SPECIMENS[0]["qr_2021"])
    assert card.cmnd == ""
    assert format_qr_payload(card).split("|")[1] == ""


@pytest.mark.parametrize(
    "payload,why",
    [
        ("", "fields"),
        ("079090012345|Nguyễn Văn An|15031990|Nam|addr|01052021", "fields"),  # CMND field dropped
        ("07909001234||A|15031990|Nam|addr|01052021", "personal ID"),
        ("079090012345|12345|A|15031990|Nam|addr|01052021", "CMND"),
        ("079090012345||A|31021990|Nam|addr|01052021", "calendar"),
        ("079090012345||A|15031990|Male|addr|01052021", "sex"),
        ("079090012345|| |15031990|Nam|addr|01052021", "name"),
        ("079090012345||A|15031990|Nam|addr|01051980", "before"),
        ("999090012345||A|15031990|Nam|addr|01052021", "province"),  # unassigned province code
        ("079190012345||A|15031990|Nam|addr|01052021", "sex"),  # ID says female, QR says Nam
        ("079090012345||A|15031991|Nam|addr|01052021", "birth year"),  # ID says 1990
        ("079090012345||A|15031990|Nam|addr|01052021|||", "fields"),
        ("x" * 5000, "too long"),
    ],
)
def test_invalid_payloads_have_a_reason_code(payload, why):
    with pytest.raises(QRPayloadError) as err:
        parse_qr_payload(payload)
    assert err.value.code == "qr.payload_invalid"
    assert why in err.value.detail


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_parser_raises_only_its_own_error(text):
    try:
        parse_qr_payload(text)
    except QRPayloadError:
        pass


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(alphabet="AĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY"
                          "àáạảãăằắặẳẵâầấậẩẫđèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹ ",
                 min_size=1, max_size=40).filter(lambda s: s.strip()),
    birth=st.dates(dt.date(1920, 1, 1), dt.date(2024, 1, 1)),
    days=st.integers(0, 30000),
    cmnd=st.sampled_from(["", "123456789"]),
    gen=st.sampled_from(list(QRGeneration)),
    sex=st.sampled_from(["M", "F"]),
)
def test_property_format_parse_round_trip(name, birth, days, cmnd, gen, sex):
    from icao9303.vn import century_sex_digit
    from reader.capture import CardQR

    pid = f"001{century_sex_digit(birth.year, sex)}{birth.year % 100:02d}000001"
    issue = min(birth + dt.timedelta(days=days), dt.date.today())
    card = CardQR(pid, cmnd, name.strip(), birth, sex, "Hà Nội", issue, gen)
    again = parse_qr_payload(format_qr_payload(card))
    assert again == card


# ---------------------------------------------------------------------------------------------- images

@pytest.mark.parametrize("eci", [True, False], ids=["eci", "no-eci"])
@pytest.mark.parametrize("spec", SPECIMENS, ids=lambda s: s["name"])
@pytest.mark.parametrize("layout", ["qr_2021", "qr_2024"])
def test_qr_image_round_trip_with_and_without_eci(spec, layout, eci):
    found = decode_qr(qr_image(spec[layout], eci))
    assert len(found) == 1
    assert found[0].text == spec[layout]
    assert parse_qr_payload(found[0].text).personal_id == spec["personal_id"]


# Words whose UTF-8 bytes are valid Shift-JIS or Big5: zbar, guessing the charset of a QR without ECI,
# returns them as kana/kanji (observed with libzbar0 0.23.92).
MISREAD_WITHOUT_ECI = ["Nữ", "Đặng", "Bùi Văn Đức", "Thừa Thiên Huế", "Lê Lợi"]


@pytest.mark.parametrize("word", MISREAD_WITHOUT_ECI)
def test_zbar_text_mode_misreads_and_repair_fixes_it(word):
    from pyzbar import pyzbar

    raw = pyzbar.decode(qr_image(word, eci=False))[0].data
    assert raw != word.encode("utf-8")  # the bug is real: zbar's guess mangled the text
    text, repaired = repair_charset(raw)
    assert repaired and text == word
    # the decoder as used by scans reads the raw bytes and never needs the repair
    assert decode_qr(qr_image(word, eci=False))[0].text == word
    # with an ECI designator zbar decodes correctly
    assert pyzbar.decode(qr_image(word, eci=True))[0].data == word.encode("utf-8")


@pytest.mark.parametrize("word", ["Nữ", "Đặng", "Bùi Văn Đức", "Thừa Thiên Huế"])
def test_text_mode_fallback_repairs(word):
    found = decode_qr(qr_image(word, eci=False), binary=False)
    assert found[0].text == word and found[0].charset_repaired


def test_repair_leaves_correct_text_alone():
    for text in ["079090012345||Nguyễn Văn An|15031990|Nam|Hà Nội|01052021", "ASCII only", ""]:
        assert repair_charset(text.encode("utf-8")) == (text, False)
    assert repair_charset(b"\xff\xfe")[1] is False


def test_rotated_blurred_qr_is_found_by_the_fallbacks():
    import cv2

    img = qr_image(SPECIMENS[1]["qr_2024"], eci=True, scale=5)
    img = cv2.copyMakeBorder(img, 120, 120, 120, 120, cv2.BORDER_CONSTANT, value=255)
    h, w = img.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[60, 30], [w - 20, 80], [w - 70, h - 10], [10, h - 60]])
    warped = cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=255)
    warped = cv2.GaussianBlur(warped, (0, 0), 1.5)
    rng = np.random.default_rng(5)
    noisy = np.clip(warped + rng.normal(0, 12, warped.shape), 0, 255).astype(np.uint8)
    found = decode_qr(noisy)
    assert found and found[0].text == SPECIMENS[1]["qr_2024"]


def test_no_qr_gives_nothing():
    assert decode_qr(np.full((200, 300), 255, np.uint8)) == []
