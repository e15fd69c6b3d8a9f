"""scan_image and `cancuoc scan`: photographed card faces of both generations, modes, bad input, no leaks."""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cancuoc.cli import main
from issuance.card_face import CardFaceData, render_back, render_front
from reader.capture import QRGeneration, ScanKind, scan_image
from reader.capture.synth import photograph

SPECIMENS = json.loads((Path(__file__).parent / "vectors/capture/specimens.json").read_text("utf-8"))["specimens"]


def face_data(spec: dict, generation: QRGeneration) -> CardFaceData:
    return CardFaceData.build(
        generation, personal_id=spec["personal_id"], full_name=spec["full_name"],
        date_of_birth=dt.date.fromisoformat(spec["date_of_birth"]), sex=spec["sex"],
        date_of_issue=dt.date.fromisoformat(spec["date_of_issue"]), place_of_residence=spec["place_of_residence"],
        place_of_birth=spec["place_of_birth"], cmnd=spec["cmnd"])


def bgr(img) -> np.ndarray:
    return np.asarray(img.convert("RGB"))[:, :, ::-1].copy()


@pytest.fixture(scope="module")
def faces() -> dict[tuple[str, str, str], np.ndarray]:
    out = {}
    for s in SPECIMENS:
        for g in QRGeneration:
            data = face_data(s, g)
            out[(s["name"], g.value, "front")] = bgr(render_front(data, 600))
            out[(s["name"], g.value, "back")] = bgr(render_back(data, 600))
    return out


@pytest.mark.parametrize("spec", SPECIMENS, ids=lambda s: s["name"])
@pytest.mark.parametrize("generation,side", [("cccd2021", "front"), ("card2024", "back")])
def test_photographed_qr_side(faces, spec, generation, side):
    photo = photograph(faces[(spec["name"], generation, side)], seed=7)
    r = scan_image(photo)
    assert r.ok and r.kind is ScanKind.QR, r.codes
    assert r.fields["personal_id"] == spec["personal_id"] and r.fields["full_name"] == spec["full_name"]
    assert r.fields["cmnd"] == spec["cmnd"] and r.fields["generation"] == generation
    keys = r.access_keys
    assert keys.can == spec["can"] and keys.mrz_information == spec["mrz_information"]
    assert keys.expiry_derived and keys.no_expiry is (spec["date_of_expiry"] is None)
    assert r.fields["date_of_expiry"] == (spec["date_of_expiry"] or "")


@pytest.mark.parametrize("spec", SPECIMENS, ids=lambda s: s["name"])
def test_photographed_2021_back_gives_the_mrz(faces, spec):
    r = scan_image(photograph(faces[(spec["name"], "cccd2021", "back")], seed=8))
    assert r.ok and r.kind is ScanKind.MRZ, r.codes
    assert "qr.not_found" in r.codes  # the 2021 back has no QR: tried and reported
    assert r.fields["personal_id"] == spec["personal_id"]
    assert r.fields["date_of_birth"] == spec["date_of_birth"]
    assert r.fields["date_of_expiry"] == (spec["date_of_expiry"] or "")
    assert r.access_keys.mrz_information == spec["mrz_information"] and not r.access_keys.expiry_derived
    assert r.access_keys.can == spec["can"]


def test_mode_all_cross_checks_qr_and_mrz_on_the_2024_back(faces):
    spec = SPECIMENS[0]
    r = scan_image(faces[(spec["name"], "card2024", "back")], mode="all")
    assert r.ok and r.kind is ScanKind.QR and r.codes == ()
    assert set(r.methods) == {"qr", "mrz"}
    assert not r.access_keys.expiry_derived  # the printed expiry replaced the derived one
    assert r.access_keys.mrz_information == spec["mrz_information"]


def test_qr_and_mrz_of_different_people_are_flagged_not_mixed():
    a, b = SPECIMENS
    data = replace(face_data(a, QRGeneration.CARD_2024), mrz=face_data(b, QRGeneration.CARD_2024).mrz)
    r = scan_image(bgr(render_back(data, 300)), mode="all")
    assert "scan.qr_mrz_mismatch" in r.codes
    assert r.fields["personal_id"] == a["personal_id"] and r.access_keys.expiry_derived
    assert r.access_keys.mrz_information == a["mrz_information"]


def test_mode_qr_only_and_mrz_only(faces):
    back_2021 = faces[("nguyen_van_an", "cccd2021", "back")]
    r = scan_image(back_2021, mode="qr")
    assert not r.ok and r.codes == ("qr.not_found", "scan.nothing_found")
    front_2021 = faces[("nguyen_van_an", "cccd2021", "front")]
    r = scan_image(front_2021, mode="mrz")
    assert not r.ok and r.failures[0].stage == "mrz"


def test_foreign_qr_is_reported_as_an_invalid_payload():
    import segno

    buf = io.BytesIO()
    segno.make("https://example.org/not-a-card", micro=False).save(buf, kind="png", scale=6, border=8)
    r = scan_image(buf.getvalue(), mode="qr")
    assert not r.ok and "qr.payload_invalid" in r.codes


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _huge_png_header() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0))
            + chunk(b"IEND", b""))


HOSTILE = {
    "empty": (b"", "image.empty"),
    "text": (b"IDVNM0900123450079090012345<<0 not an image", "image.unreadable"),
    "truncated": (_png(Image.new("RGB", (400, 300), "white"))[:120], "image.unreadable"),
    "huge": (_huge_png_header(), "image.too_large"),
    "tiny": (_png(Image.new("L", (5, 5), 128)), "image.too_small"),
    "zero_array": (np.zeros((0, 0, 3), np.uint8), "image.empty"),
    "bad_shape": (np.zeros((40, 40, 7), np.uint8), "image.unreadable"),
    "float_nan": (np.full((64, 64), np.nan), "scan.nothing_found"),
    "noise": (np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8), "scan.nothing_found"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_inputs_give_a_reason_code_never_a_crash(name):
    data, code = HOSTILE[name]
    r = scan_image(data)
    assert not r.ok and r.kind is None
    assert code in r.codes, r.codes


def test_missing_file_and_directory(tmp_path):
    assert scan_image(tmp_path / "nope.png").codes == ("image.unreadable",)
    assert scan_image(tmp_path).codes == ("image.unreadable",)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes_never_crash(data):
    r = scan_image(data)
    assert not r.ok and r.failures


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_fuzz_corrupted_png_never_crashes(seed):
    rng = np.random.default_rng(seed)
    raw = bytearray(_png(Image.new("RGB", (160, 120), (240, 240, 240))))
    for _ in range(rng.integers(1, 8)):
        raw[rng.integers(8, len(raw))] = rng.integers(0, 256)
    assert scan_image(bytes(raw)).failures


# ------------------------------------------------------------------------------------------------- CLI

def test_cli_json_and_exit_codes(tmp_path, faces, capsys):
    front = tmp_path / "front.png"
    cv2.imwrite(str(front), faces[("tran_thi_binh", "cccd2021", "front")])
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"nope")
    assert main(["scan", str(front), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (result,) = out["results"]
    spec = SPECIMENS[1]
    assert result["ok"] and result["kind"] == "qr"
    assert result["fields"]["full_name"] == spec["full_name"]
    assert result["access_keys"]["can"] == spec["can"]  # shown unmasked: the user asked for it
    assert result["access_keys"]["mrz_information"] == spec["mrz_information"]
    assert result["access_keys"]["no_expiry"] is True
    assert main(["scan", str(front), str(junk)]) == 1
    text = capsys.readouterr().out
    assert spec["full_name"] in text and "image.unreadable" in text and spec["can"] in text


def test_nothing_personal_is_logged(faces, caplog):
    caplog.set_level(logging.DEBUG)
    spec = SPECIMENS[0]
    for side in ("front", "back"):
        r = scan_image(faces[(spec["name"], "cccd2021", side)])
        assert r.ok
        assert spec["can"] not in repr(r) and spec["personal_id"] not in repr(r)
    logged = " ".join(rec.getMessage() for rec in caplog.records)
    for secret in (spec["can"], spec["personal_id"], spec["mrz_information"], "NGUYEN", spec["full_name"]):
        assert secret not in logged
