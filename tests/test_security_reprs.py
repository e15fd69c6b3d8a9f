"""Security review, rule 1 at the object level: the repr and str of every public object that holds a key,
an access password (MRZ information, CAN), a transport key or session keys show none of them.

Objects are built directly where that is simple and captured from a real PACE-CAM/CA/AA read of a
personalized virtual chip otherwise (results are recorded as they are constructed).
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from typing import Any

import pytest

from icao9303.crypto.bac import BACResult
from icao9303.crypto.ca import CAResult
from icao9303.crypto.kdf import CANKey, MRZKey
from icao9303.crypto.pace import PACEResult
from icao9303.crypto.sm import SecureMessaging
from icao9303.mrz import MRZ

PID = "001090864213"
TK = bytes.fromhex("5e3c1a9f7b2d4e6081a3c5e7f9b1d3e5")
KS_ENC = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
KS_MAC = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")


def _forms(secret: str | bytes) -> list[str]:
    if isinstance(secret, bytes):
        return [secret.hex(), secret.hex().upper(), repr(secret)[2:-1]]
    return [secret, secret.encode().hex()]


def _assert_clean(obj: Any, secrets: dict[str, str | bytes]) -> None:
    shown = repr(obj) + "\n" + str(obj)
    for name, secret in secrets.items():
        for form in _forms(secret):
            assert form not in shown, f"{name} shown by {type(obj).__name__}: {shown[:120]}"


def _mrz() -> MRZ:
    return MRZ.for_vn_card(PID, "Nguyễn Văn An", dt.date(1990, 3, 15), "M", dt.date(2030, 3, 15))


def test_access_keys_and_mrz_objects() -> None:
    from icao9303.lds.dg1 import DG1

    mrz = _mrz()
    secrets: dict[str, str | bytes] = {"MRZ line 1": mrz.lines[0], "MRZ line 2": mrz.lines[1],
                                       "MRZ information": mrz.mrz_information, "CAN": PID[-6:],
                                       "document number": PID[3:]}
    key = MRZKey(PID[3:], "900315", "300315")
    assert key.mrz_information.decode() == mrz.mrz_information
    for obj in (key, CANKey(PID[-6:]), mrz, DG1(mrz)):
        _assert_clean(obj, secrets)


def test_session_key_holders() -> None:
    from icao9303.crypto.cipher import AES_128, DES3

    secrets = {"KS_enc": KS_ENC, "KS_mac": KS_MAC}
    _assert_clean(BACResult(KS_ENC, KS_MAC, bytes(8)), secrets)
    _assert_clean(SecureMessaging(DES3, KS_ENC, KS_MAC, 0), secrets)
    _assert_clean(SecureMessaging(AES_128, KS_ENC, KS_MAC, 0), secrets)


def test_card_state_and_issuance_objects() -> None:
    from firmware_profiles import load_profile, new_blank_card
    from issuance.card_face import CardFaceData
    from reader.capture import QRGeneration

    mrz = _mrz()
    state = new_blank_card(load_profile("vn-cc-2024"), "00112233AABBCCDD", TK)
    state.can = PID[-6:]
    _assert_clean(state, {"transport key": TK, "CAN": PID[-6:]})
    face = CardFaceData(generation=QRGeneration.CARD_2024, personal_id=PID, full_name="Nguyễn Văn An",
                        date_of_birth=dt.date(1990, 3, 15), sex="M", date_of_issue=dt.date(2025, 3, 15),
                        date_of_expiry=dt.date(2030, 3, 15), mrz=tuple(mrz.lines),  # type: ignore[arg-type]
                        place_of_residence="Hà Nội")
    _assert_clean(face, {"MRZ line 1": mrz.lines[0], "MRZ line 2": mrz.lines[1], "CAN": PID[-6:]})


def test_results_of_a_real_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """PACE-CAM, CA, SM and the reader's report, as a real read builds them."""
    from reader import inspect_card
    from reader.access import can_key
    from reader.testing import SPECIMEN_DG13, TestPKI, personalize
    from reader.transport import InProcessTransport

    made: list[Any] = []
    for cls in (PACEResult, CAResult, SecureMessaging):
        original = cls.__init__

        def init(self: Any, *a: Any, __original: Any = original, **kw: Any) -> None:
            __original(self, *a, **kw)
            made.append(self)

        monkeypatch.setattr(cls, "__init__", init)
    mrz = _mrz()
    pki = TestPKI(at=datetime.now(UTC))
    card = personalize("vn-cc-2024", pki, mrz="".join(mrz.lines), dg13={**SPECIMEN_DG13, 1: PID})
    report = inspect_card(InProcessTransport(card.chip), can_key(card.can), pki.trust_store(),
                          at=datetime.now(UTC), aa_challenge=bytes(8))
    assert report.verdict.value == "passed", report.to_dict()
    kinds = {type(o).__name__ for o in made}
    assert {"PACEResult", "SecureMessaging"} <= kinds, kinds
    keys: dict[str, str | bytes] = {}
    for i, o in enumerate(made):
        for attr in ("ks_enc", "ks_mac", "_ks_enc", "_ks_mac"):
            if isinstance(getattr(o, attr, None), bytes):
                keys[f"{type(o).__name__}[{i}].{attr}"] = getattr(o, attr)
    assert len(keys) >= 4
    secrets = {**keys, "CAN": card.can, "MRZ information": mrz.mrz_information, "MRZ line 2": mrz.lines[1]}
    for o in made:
        _assert_clean(o, secrets)
    for o in (report, report.access, report.evidence, report.document, *report.checks):
        _assert_clean(o, {k: v for k, v in secrets.items() if k != "CAN"})  # the personal ID may show


def test_saved_traces_are_private_files(tmp_path):
    """APDU traces and evidence bundles hold DG1 (the MRZ): written 0600, even over a wider existing file."""
    import stat

    from reader.trace import ApduTrace, write_private

    target = tmp_path / "trace.json"
    target.write_text("old")
    target.chmod(0o644)
    ApduTrace().save(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_private(tmp_path / "evidence.json", "{}")
    assert stat.S_IMODE((tmp_path / "evidence.json").stat().st_mode) == 0o600
