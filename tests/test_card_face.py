"""Card face proof (issuance.card_face): both generations render, carry the right QR and MRZ, and scan back."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from issuance.card_face import CardFaceData, CardFaceError, render_back, render_card, render_front, save_pdf, save_png
from issuance.portrait import sample_portrait_bytes
from reader.capture import QRGeneration, scan_image

SPECIMENS = json.loads((Path(__file__).parent / "vectors/capture/specimens.json").read_text("utf-8"))["specimens"]


def face_data(spec: dict, generation: QRGeneration, portrait: bytes | None = None) -> CardFaceData:
    return CardFaceData.build(
        generation,
        personal_id=spec["personal_id"],
        full_name=spec["full_name"],
        date_of_birth=dt.date.fromisoformat(spec["date_of_birth"]),
        sex=spec["sex"],
        date_of_issue=dt.date.fromisoformat(spec["date_of_issue"]),
        place_of_residence=spec["place_of_residence"],
        place_of_origin=spec["place_of_origin"],
        place_of_birth=spec["place_of_birth"],
        cmnd=spec["cmnd"],
        portrait=portrait,
    )


@pytest.mark.parametrize("spec", SPECIMENS, ids=lambda s: s["name"])
def test_build_uses_the_age_rules_and_the_vn_mrz(spec):
    data = face_data(spec, QRGeneration.CARD_2024)
    assert data.mrz == tuple(spec["mrz"])  # the VN_CARD.md specimen, rebuilt by icao9303.mrz
    expected = spec["date_of_expiry"]
    assert data.date_of_expiry == (dt.date.fromisoformat(expected) if expected else None)
    assert data.qr_payload() == spec["qr_2024"]
    assert face_data(spec, QRGeneration.CCCD_2021).qr_payload() == spec["qr_2021"]
    assert spec["personal_id"] not in repr(data)


@pytest.mark.parametrize("generation", list(QRGeneration), ids=lambda g: g.value)
def test_render_is_id1_size_and_writes_png_and_pdf(tmp_path, generation):
    data = face_data(SPECIMENS[0], generation, sample_portrait_bytes())
    images = render_card(data, dpi=300)
    assert images.front.size == (1011, 638) and images.back.size == (1011, 638)  # 85.60 × 53.98 mm
    assert render_front(data, dpi=600).size == (2022, 1275)
    front, back = save_png(images, tmp_path, "card")
    assert back.is_file()
    with Image.open(front) as img:
        assert img.size == (1011, 638) and round(img.info["dpi"][0]) == 300
    pdf = save_pdf(images, tmp_path / "card.pdf")
    raw = pdf.read_bytes()
    assert raw.startswith(b"%PDF") and raw.count(b"/Type /Page\n") + raw.count(b"/Type /Page ") >= 2
    # page size = ID-1 in points (85.60 mm = 242.6 pt)
    assert b"242.6" in raw or b"242.64" in raw


@pytest.mark.parametrize("spec", SPECIMENS, ids=lambda s: s["name"])
@pytest.mark.parametrize("generation", list(QRGeneration), ids=lambda g: g.value)
def test_rendered_faces_scan_back_to_the_fields(spec, generation):
    data = face_data(spec, generation, sample_portrait_bytes())
    qr_side = render_front(data, 300) if generation is QRGeneration.CCCD_2021 else render_back(data, 300)
    result = scan_image(np.asarray(qr_side)[:, :, ::-1].copy())
    assert result.ok and result.kind.value == "qr", result.codes
    assert result.fields["full_name"] == spec["full_name"]  # diacritics intact through segno + zbar
    assert result.fields["address"] == spec["place_of_residence"]
    assert result.fields["generation"] == generation.value
    assert result.access_keys.mrz_information == spec["mrz_information"]
    assert result.access_keys.can == spec["can"]
    back = scan_image(np.asarray(render_back(data, 300))[:, :, ::-1].copy(), mode="mrz")
    assert back.ok and back.kind.value == "mrz", back.codes
    assert back.access_keys.mrz_information == spec["mrz_information"]
    assert back.fields["personal_id"] == spec["personal_id"]


def test_qr_carries_an_eci_designator():
    """zbar in text mode misreads "Bùi Văn Đức" from a QR without ECI (see test_capture_qr); the card's QR
    has the UTF-8 ECI designator, so even text mode reads it right, with no repair."""
    from dataclasses import replace

    from reader.capture import decode_qr

    data = replace(face_data(SPECIMENS[0], QRGeneration.CARD_2024), full_name="Bùi Văn Đức")
    found = decode_qr(np.asarray(render_back(data, 300).convert("L")), binary=False)
    assert found and found[0].text.split("|")[2] == "Bùi Văn Đức" and not found[0].charset_repaired


def test_missing_portrait_gets_a_placeholder_and_bad_portrait_is_an_error():
    data = face_data(SPECIMENS[0], QRGeneration.CARD_2024)  # portrait None (e.g. under-6s)
    assert render_front(data, 150).size[0] > 0
    bad = face_data(SPECIMENS[0], QRGeneration.CARD_2024, portrait=b"not an image")
    with pytest.raises(CardFaceError) as err:
        render_front(bad, 150)
    assert err.value.code == "card_face.portrait_invalid"


def test_invalid_mrz_is_refused():
    from dataclasses import replace

    data = face_data(SPECIMENS[0], QRGeneration.CARD_2024)
    with pytest.raises(CardFaceError) as err:
        render_back(replace(data, mrz=("SHORT", "", "")), 150)
    assert err.value.code == "card_face.mrz_invalid"
