"""Card composition (DESIGN.md issuance step 2): citizen record → MRZ, DG1, DG2, DG3, DG13, EF.COM,
EF.CardAccess; then, once the chip has generated its keys, DG14, DG15, EF.SOD and EF.CardSecurity.

Composition is split in two because the Chip Authentication and Active Authentication key pairs are
generated ON the chip during personalization (issue #4): DG14/DG15 carry their public keys, and EF.SOD
hashes every DG, so signing can only happen after key generation.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from firmware_profiles import FirmwareProfile
from firmware_profiles.security_infos import card_access_bytes, chip_authentication_infos
from icao9303.lds.com import EFCOM
from icao9303.lds.dg1 import DG1
from icao9303.lds.dg2 import DG2
from icao9303.lds.dg13 import DG13
from icao9303.lds.dg15 import DG15
from icao9303.lds.security_infos import DG14, PACEInfo, SecurityInfos
from icao9303.lds.sod import SOD
from icao9303.mrz import MRZ
from icao9303.tlv import encode_tlv
from icao9303.vn import card_expiry, parse_personal_id
from issuance.errors import CompositionError

#: ISO 3166-1 alpha-3 → the nationality as printed in DG13 (field 5) and on the card face.
NATIONALITY_NAMES = {"VNM": "Việt Nam"}
#: DG13 date format (VN_CARD.md): dd/MM/yyyy.
DG13_DATE = "%d/%m/%Y"
#: DG13 field 12 / card face text for a card without expiry.
NO_EXPIRY_TEXT = "Không thời hạn"
#: SOD hash algorithm. Decision: SHA-256 (9303-12 allows SHA-224..512; SHA-1 is legacy only).
SOD_HASH = "sha256"


@dataclass(frozen=True)
class CitizenCardData:
    """What a card shows about its holder, independent of the database (fields after VN_CARD.md DG13)."""

    personal_id: str
    full_name: str
    date_of_birth: dt.date
    sex: str  # "M" / "F"
    nationality: str = "VNM"
    ethnicity: str | None = None
    religion: str | None = None
    place_of_origin: str | None = None
    place_of_residence: str | None = None
    place_of_birth: str | None = None
    identifying_features: str | None = None
    father_name: str | None = None
    mother_name: str | None = None
    spouse_name: str | None = None
    old_cmnd: str | None = None

    def __repr__(self) -> str:  # never print a whole identity record into a log
        return f"CitizenCardData(personal_id={self.personal_id[:6]}******, <redacted>)"


def card_data_from_view(view: dict[str, Any]) -> CitizenCardData:
    """From `population.citizens.citizen_view` output (birth date ``dd/MM/yyyy``). Raises CompositionError
    when the birth date is partial (see `issuance.enrollment.missing_card_fields`)."""
    try:
        day, month, year = (int(part) for part in str(view["birth_date"]).split("/"))
        born = dt.date(year, month, day)
    except (TypeError, ValueError) as exc:
        raise CompositionError("the record's birth date is not a full date", reason="BIRTH_DATE_PARTIAL") from exc
    residences = view.get("residences") or {}
    family = view.get("family") or {}
    address = (residences.get("permanent") or residences.get("current") or {}).get("address")
    return CitizenCardData(
        personal_id=view["personal_id"], full_name=view["full_name"], date_of_birth=born, sex=view["sex"],
        nationality=view.get("nationality") or "VNM", ethnicity=view.get("ethnicity"),
        religion=view.get("religion"), place_of_origin=view.get("place_of_origin"),
        place_of_residence=address, place_of_birth=view.get("place_of_birth"),
        identifying_features=view.get("identifying_features"),
        father_name=(family.get("father") or {}).get("name"), mother_name=(family.get("mother") or {}).get("name"),
        spouse_name=(family.get("spouse") or {}).get("name"), old_cmnd=view.get("old_cmnd"),
    )


@dataclass
class Composition:
    """The card's files being built. ``files`` maps profile file names (``"DG1"``, ``"EF.COM"``, ...)
    to their bytes; `complete` adds the key-dependent files and the signatures."""

    profile: FirmwareProfile
    data: CitizenCardData
    card_number: str
    chip_serial: str
    issue_date: dt.date
    expiry_date: dt.date | None
    mrz: MRZ
    files: dict[str, bytes] = field(default_factory=dict)
    ca_public_key: bytes | None = None
    aa_public_key: bytes | None = None
    ds_certificate: bytes | None = None

    def __repr__(self) -> str:
        return f"Composition(card_number={self.card_number}, files={sorted(self.files)}, <redacted>)"

    @property
    def can(self) -> str:
        """The PACE CAN: the last 6 digits of the personal ID (VN_CARD.md)."""
        return self.data.personal_id[-6:]

    @property
    def sod_hash_hex(self) -> str:
        return hashlib.new(SOD_HASH, self.files["EF.SOD"]).hexdigest()

    def data_groups(self) -> list[int]:
        return sorted(int(n[2:]) for n in self.files if n.startswith("DG"))


def _image_size(jpeg: bytes) -> tuple[int, int]:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise CompositionError("the portrait is not a decodable image", reason="PORTRAIT_INVALID")
    return int(img.shape[1]), int(img.shape[0])


def _dg13(d: CitizenCardData, issue: dt.date, expiry: dt.date | None, chip_serial: str) -> DG13:
    """VN DG13 (VN_CARD.md table). Field 16 holds the chip serial (16 hex characters): the public
    parsers show a 16-character value there, "likely the card/chip serial" — our decision."""
    return DG13.build(
        personal_id=d.personal_id,
        full_name=d.full_name,
        date_of_birth=d.date_of_birth.strftime(DG13_DATE),
        sex="Nam" if d.sex == "M" else "Nữ",
        nationality=NATIONALITY_NAMES.get(d.nationality, d.nationality),
        ethnicity=d.ethnicity,
        religion=d.religion or "Không",
        place_of_origin=d.place_of_origin,
        place_of_residence=d.place_of_residence,
        identifying_features=d.identifying_features,
        date_of_issue=issue.strftime(DG13_DATE),
        date_of_expiry=expiry.strftime(DG13_DATE) if expiry else NO_EXPIRY_TEXT,
        father_name=d.father_name or "",
        mother_name=d.mother_name or "",
        spouse_name=d.spouse_name or "",
        old_id_number=d.old_cmnd,
        card_serial=chip_serial,
    )


def _dg3_placeholder() -> bytes:
    """DG3 with a biometric information group template holding zero instances (ICAO 9303-10 §4.7.3).

    Decision: fingerprints are not captured by this station; the real card lists DG3 in EF.COM behind
    EAC (VN_CARD.md), so the file exists, is EAC-protected by the profile, is listed in EF.COM and
    hashed in EF.SOD, and holds an empty group (count 0)."""
    return encode_tlv(0x63, encode_tlv(0x7F61, encode_tlv(0x02, b"\x00")))


def compose_card(data: CitizenCardData, portrait: bytes, profile: FirmwareProfile, *, card_number: str,
                 chip_serial: str, issue_date: dt.date) -> Composition:
    """Stage 1: every file that does not depend on the chip's keys. Expiry from the age rules."""
    try:
        pid = parse_personal_id(data.personal_id, today=issue_date)
        pid.verify_consistent(birth_date=data.date_of_birth, sex=data.sex)
    except Exception as exc:  # PersonalIDError: the record contradicts its own ID
        raise CompositionError(f"personal ID inconsistent with the record ({getattr(exc, 'reason', exc)})",
                               reason="PERSONAL_ID_INCONSISTENT") from exc
    expiry = card_expiry(data.date_of_birth, issue_date)
    mrz = MRZ.for_vn_card(data.personal_id, data.full_name, data.date_of_birth, data.sex, expiry)
    names = {f.name for f in profile.files}
    files: dict[str, bytes] = {"DG1": DG1(mrz).to_bytes()}
    if "DG2" in names:
        width, height = _image_size(portrait)
        files["DG2"] = DG2.from_image(portrait, width, height, jpeg2000=portrait[:4] == b"\x00\x00\x00\x0c"
                                      or portrait[:2] == b"\xff\x4f").to_bytes()
    if "DG3" in names:
        files["DG3"] = _dg3_placeholder()
    if "DG13" in names:
        files["DG13"] = _dg13(data, issue_date, expiry, chip_serial).to_bytes()
    if "EF.CardAccess" in names and profile.pace is not None:
        files["EF.CardAccess"] = card_access_bytes(profile)
    return Composition(profile, data, card_number, chip_serial, issue_date, expiry, mrz, files)


def complete(comp: Composition, *, ca_public_key: bytes | None, aa_public_key: bytes | None, pki: Any,
             now: dt.datetime | None = None) -> Composition:
    """Stage 2, after on-chip key generation: DG14 (CA public key + PACE/AA infos), DG15 (AA public
    key), EF.COM (every DG present), EF.SOD signed by the current Document Signer through
    `pki.sign_sod`, and EF.CardSecurity (for PACE-CAM profiles) through `pki.sign_card_security`."""
    from firmware_profiles.security_infos import dg14_security_infos

    names = {f.name for f in comp.profile.files}
    if ca_public_key is not None and "DG14" in names:
        comp.files["DG14"] = DG14.from_bytes(encode_tlv(0x6E, dg14_security_infos(comp.profile, ca_public_key))
                                             ).to_bytes()
    if aa_public_key is not None and "DG15" in names:
        comp.files["DG15"] = DG15.from_public_key_der(aa_public_key).to_bytes()
    comp.ca_public_key, comp.aa_public_key = ca_public_key, aa_public_key
    comp.files["EF.COM"] = EFCOM.for_data_groups(comp.data_groups()).to_bytes()
    hashes = {int(n[2:]): hashlib.new(SOD_HASH, b).digest() for n, b in comp.files.items() if n.startswith("DG")}
    comp.files["EF.SOD"] = pki.sign_sod(hashes, "ID", hash_algorithm=SOD_HASH, now=now)
    if "EF.CardSecurity" in names and ca_public_key is not None:
        from firmware_profiles.security_infos import pace_oids

        infos = [PACEInfo({"protocol": oid, "version": 2, "parameter_id": pid})
                 for oid in pace_oids(comp.profile) for pid in (comp.profile.pace.parameter_ids if
                                                                 comp.profile.pace else ())]
        infos.extend(chip_authentication_infos(comp.profile, ca_public_key))
        comp.files["EF.CardSecurity"] = pki.sign_card_security(SecurityInfos.build(infos).to_bytes(), now=now)
    signer = SOD.from_bytes(comp.files["EF.SOD"]).signer_certificate()
    if signer is None:
        raise CompositionError("the signed EF.SOD carries no Document Signer certificate", reason="SOD_NO_DS")
    comp.ds_certificate = signer.dump()
    return comp
