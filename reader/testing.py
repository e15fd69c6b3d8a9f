"""Test and benchmark helpers for the reader: a small test PKI and personalized virtual cards.

Not used in production code paths. Builds what issuance will build, with the other areas' own APIs:
certificates and CRLs with `pki.profiles`, EF.SOD / EF.CardSecurity with `pki.cms.build_signed_data`
and `icao9303.lds`, personalization with `firmware_profiles.dialect.PersonalizationSession` on a
`firmware_profiles.chip.VirtualChip`. Every knob a negative test needs is a parameter (DS validity,
revocation, key usage, SOD signing time, the files' bytes after signing, the chip's keys).
"""
from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import core, keys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from icao9303.tlv import encode_tlv

__all__ = ["MemoryKeyStore", "PersonalizedCard", "TestPKI", "build_card_files", "personalize"]

NOW = datetime(2026, 6, 1, tzinfo=UTC)

# VN_CARD.md specimen 1 (check digits verified there); CAN = last 6 digits of the ID.
SPECIMEN_MRZ = ("IDVNM0900123450079090012345<<0"
                "9003152M3003150VNM<<<<<<<<<<<8"
                "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<")
SPECIMEN_ID = "079090012345"
SPECIMEN_CAN = SPECIMEN_ID[-6:]
SPECIMEN_MRZ_2 = ("IDVNM1620043219001162004321<<0"
                  "6201016F9912315VNM<<<<<<<<<<<2"
                  "TRAN<<THI<BINH<<<<<<<<<<<<<<<<")


class MemoryKeyStore:
    """A `pki.keystore.KeyStore`-shaped in-memory store (tests only): EC P-256 keys by label."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}

    def generate(self, label: str, curve: ec.EllipticCurve | None = None) -> Any:
        self.keys[label] = ec.generate_private_key(curve or ec.SECP256R1())
        return self.keys[label].public_key()

    def public_key(self, label: str) -> Any:
        return self.keys[label].public_key()

    def sign(self, label: str, data: bytes, hash_alg: str, scheme: str, **_context: Any) -> bytes:
        h = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
             "sha512": hashes.SHA512}[hash_alg.replace("-", "").lower()]()
        key = self.keys[label]
        if scheme == "ecdsa":
            return key.sign(data, ec.ECDSA(h))
        if scheme == "pss":
            return key.sign(data, padding.PSS(padding.MGF1(h), h.digest_size), h)
        return key.sign(data, padding.PKCS1v15(), h)


@dataclass
class TestPKI:
    """A CSCA, a Document Signer and a CRL (ICAO 9303-12 profiles through `pki.profiles`).

    Knobs: `ds_not_before/ds_not_after` (DS validity), `ds_role` ("ds", or "link" for a DS with
    keyCertSign — KEY_USAGE_INVALID), `revoke_ds` (on the CSCA's CRL), `csca_not_after`, `hash` of the
    signatures, `link_from` (a CSCA rollover: this CSCA certified by the older one with a link
    certificate; the trust store then holds only the old CSCA and the link)."""

    country: str = "VN"
    at: datetime = NOW
    ds_not_before: datetime | None = None
    ds_not_after: datetime | None = None
    csca_not_after: datetime | None = None
    ds_role: str = "ds"
    revoke_ds: bool = False
    hash: str = "sha256"
    store: MemoryKeyStore = field(default_factory=MemoryKeyStore)
    link_from: TestPKI | None = None
    revoke_link: bool = False
    __test__ = False  # not a pytest test class

    def __post_init__(self) -> None:
        from pki.profiles import (
            RevokedEntry,
            Signer,
            build_certificate,
            build_crl,
            build_name,
            key_identifier,
        )

        at = self.at
        self.csca_name = build_name(self.country, "Cancuoc Test", "Test CSCA")
        csca_pub = self.store.generate("csca")
        self.csca_ski = key_identifier(csca_pub)
        self.csca_signer = Signer(self.store, "csca", self.hash, "ecdsa")
        self.csca = build_certificate(
            role="csca", signer=self.csca_signer, issuer=self.csca_name, issuer_key_id=self.csca_ski,
            subject=self.csca_name, public_key=csca_pub, not_before=at - timedelta(days=365),
            not_after=self.csca_not_after or at + timedelta(days=3650), private_key_usage=None)
        self.link = None
        if self.link_from is not None:
            # CSCA rollover (9303-12 §5.5.1): the new CSCA key certified by the old one
            old = self.link_from
            self.link = build_certificate(
                role="link", signer=old.csca_signer, issuer=old.csca_name, issuer_key_id=old.csca_ski,
                subject=self.csca_name, public_key=csca_pub, not_before=at - timedelta(days=10),
                not_after=self.csca_not_after or at + timedelta(days=3650), private_key_usage=None)
            # the old CSCA's CRL, revoking the link certificate when asked (a compromised new CSCA key)
            revoked_link = [RevokedEntry(self.link.serial_number, at - timedelta(days=1), "ca_compromise")] \
                if self.revoke_link else []
            self.link_crl = build_crl(signer=old.csca_signer, issuer=old.csca_name, issuer_key_id=old.csca_ski,
                                      this_update=at - timedelta(hours=12), next_update=at + timedelta(days=90),
                                      crl_number=2, revoked=revoked_link)
        ds_pub = self.store.generate("ds")
        self.ds_signer = Signer(self.store, "ds", self.hash, "ecdsa")
        nb = self.ds_not_before or at - timedelta(days=30)
        na = self.ds_not_after or at + timedelta(days=3650)
        self.ds = build_certificate(
            role=self.ds_role, signer=self.csca_signer, issuer=self.csca_name, issuer_key_id=self.csca_ski,
            subject=build_name(self.country, "Cancuoc Test", "Test DS"), public_key=ds_pub, not_before=nb,
            not_after=na, private_key_usage=None, document_types=["ID"] if self.ds_role == "ds" else None)
        revoked = [RevokedEntry(self.ds.serial_number, at - timedelta(days=1), "key_compromise")] \
            if self.revoke_ds else []
        self.crl = build_crl(signer=self.csca_signer, issuer=self.csca_name, issuer_key_id=self.csca_ski,
                             this_update=at - timedelta(days=1), next_update=at + timedelta(days=90),
                             crl_number=1, revoked=revoked)

    def trust_store(self, *, with_crl: bool = True) -> Any:
        """`pki`'s trust store holding this CSCA (and its CRL)."""
        from pki.truststore import TrustStore

        ts = TrustStore()
        if self.link_from is not None:
            # trust only the old CSCA: the path goes DS -> link certificate -> old CSCA
            _add(ts, "csca", self.link_from.csca)
            _add(ts, "link", self.link)
            if with_crl:
                _add(ts, "crl", self.link_crl)
        else:
            _add(ts, "csca", self.csca)
        if with_crl:
            _add(ts, "crl", self.crl)
        return ts

    def signed_data(self, econtent_type: str, econtent: bytes, signing_time: datetime | None) -> Any:
        from pki.cms import build_signed_data

        return build_signed_data(econtent_type, econtent, self.ds_signer, self.ds, signing_time=signing_time)


def _add(ts: Any, kind: str, obj: Any) -> None:
    for name in (f"add_{kind}", f"import_{kind}", "add"):
        fn = getattr(ts, name, None)
        if fn is not None:
            fn(obj)
            return
    raise AttributeError(f"trust store has no way to add a {kind}")


# -- LDS content --------------------------------------------------------------------------------------


def _dg1(mrz: str) -> bytes:
    return encode_tlv(0x61, encode_tlv(0x5F1F, mrz.encode("ascii")))


def _com(dgs: list[int]) -> bytes:
    from reader.reading import FILES

    tags = bytes(FILES[f"DG{n}"].tag or 0 for n in dgs)
    return encode_tlv(0x60, encode_tlv(0x5F01, b"0107") + encode_tlv(0x5F36, b"040000")
                      + encode_tlv(0x5C, tags))


def portrait_jpeg(size: int = 20_000, seed: int = 7) -> bytes:
    """A real JPEG of about `size` bytes (noise compresses badly: the size is controllable)."""
    from PIL import Image

    rnd = __import__("random").Random(seed)
    w, h = 240, 320
    quality = 40
    for _ in range(8):
        img = Image.frombytes("L", (w, h), bytes(rnd.getrandbits(8) for _ in range(w * h)))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        data = buf.getvalue()
        if abs(len(data) - size) < size * 0.15:
            return data
        scale = (size / len(data)) ** 0.5
        w, h = max(16, int(w * scale)), max(16, int(h * scale))
    return data


def _dg2(jpeg: bytes) -> bytes:
    """DG2 with one full-frontal JPEG portrait (9303-10 §4.7.2, ISO/IEC 19794-5) via `icao9303.lds.dg2`."""
    from PIL import Image

    from icao9303.lds.dg2 import DG2

    w, h = Image.open(io.BytesIO(jpeg)).size
    return DG2.from_image(jpeg, w, h).to_bytes()


class _DG13Entry(core.Sequence):
    _fields = [("n", core.Integer), ("value", core.Any)]  # noqa: RUF012


class _DG13Set(core.SetOf):
    _child_spec = _DG13Entry


class _DG13Content(core.Sequence):
    _fields = [("version", core.Integer), ("oid", core.ObjectIdentifier), ("fields", _DG13Set)]  # noqa: RUF012


def _dg13(fields: Mapping[int, str]) -> bytes:
    entries = []
    for n, v in fields.items():
        value = core.PrintableString(v) if all(c.isdigit() or c == "/" for c in v) else core.UTF8String(v)
        entries.append(_DG13Entry({"n": n, "value": core.Any.load(value.dump())}))
    content = _DG13Content({"version": 1, "oid": "1.0.10646.1.0.8", "fields": entries})
    return encode_tlv(0x6D, content.dump())


SPECIMEN_DG13 = {1: SPECIMEN_ID, 2: "Nguyễn Văn An", 3: "15/03/1990", 4: "Nam", 5: "Việt Nam", 6: "Kinh",
                 7: "Không", 8: "Hà Nội", 9: "Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội", 11: "15/03/2021",
                 12: "15/03/2030"}


def _security_infos(infos: list[Any]) -> bytes:
    from icao9303.lds.security_infos import SecurityInfos

    return SecurityInfos.build(infos).to_bytes()


def _pace_infos(profile: Any) -> list[Any]:
    from icao9303.lds.security_infos import PACEInfo

    out = []
    if profile.pace is None:
        return out
    suffix = {"3DES": 1, "AES-128": 2, "AES-192": 3, "AES-256": 4}[profile.pace.cipher]
    base = {"GM": "0.4.0.127.0.7.2.2.4.2", "IM": "0.4.0.127.0.7.2.2.4.4", "CAM": "0.4.0.127.0.7.2.2.4.6"}
    for mapping in profile.pace.mappings:
        for pid in profile.pace.parameter_ids:
            out.append(PACEInfo({"protocol": f"{base[mapping]}.{suffix}", "version": 2, "parameter_id": pid}))
    return out


def _ca_infos(profile: Any, ca_spki: bytes) -> list[Any]:
    from icao9303.lds.security_infos import ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo

    suffix = {"3DES": 1, "AES-128": 2, "AES-192": 3, "AES-256": 4}[profile.chip_authentication.cipher]
    key_id = profile.chip_authentication.key_id
    info: dict[str, Any] = {"protocol": f"0.4.0.127.0.7.2.2.3.2.{suffix}", "version": 1}
    pk: dict[str, Any] = {"protocol": "0.4.0.127.0.7.2.2.1.2",
                          "chip_authentication_public_key": keys.PublicKeyInfo.load(ca_spki)}
    if key_id is not None:
        info["key_id"] = key_id
        pk["key_id"] = key_id
    return [ChipAuthenticationInfo(info), ChipAuthenticationPublicKeyInfo(pk)]


def _aa_info(profile: Any) -> list[Any]:
    from icao9303.lds.security_infos import ActiveAuthenticationInfo

    aa = profile.active_authentication
    if aa is None or aa.algorithm != "ECDSA":
        return []
    oid = {"SHA-1": "1.2.840.10045.4.1", "SHA-224": "1.2.840.10045.4.3.1", "SHA-256": "1.2.840.10045.4.3.2",
           "SHA-384": "1.2.840.10045.4.3.3", "SHA-512": "1.2.840.10045.4.3.4"}[aa.hash]
    return [ActiveAuthenticationInfo({"protocol": "2.23.136.1.1.5", "version": 1,
                                      "signature_algorithm": oid})]


def build_card_files(profile: Any, pki: TestPKI, *, ca_spki: bytes | None, aa_spki: bytes | None,
                     mrz: str = SPECIMEN_MRZ, dg13: Mapping[int, str] | None = None, dg2_size: int = 20_000,
                     signing_time: datetime | None = None, sod_hash: str = "sha256",
                     before_sign: Callable[[dict[str, bytes]], None] | None = None,
                     after_sign: Callable[[dict[str, bytes]], None] | None = None) -> dict[str, bytes]:
    """Every file of a card of `profile` (EF.CardAccess, EF.CardSecurity, EF.COM, DGs, EF.SOD), signed by
    `pki`'s DS. `before_sign` may change DGs so the SOD covers the change; `after_sign` may change any
    file afterwards (the SOD then no longer matches)."""
    from icao9303.lds.oids import ID_SECURITY_OBJECT
    from icao9303.lds.sod import SOD, build_lds_security_object
    from pki.asn1 import ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT

    names = {f.name for f in profile.files}
    files: dict[str, bytes] = {"DG1": _dg1(mrz)}
    if "DG2" in names and dg2_size:
        files["DG2"] = _dg2(portrait_jpeg(dg2_size))
    if "DG13" in names:
        files["DG13"] = _dg13(dg13 or SPECIMEN_DG13)
    from firmware_profiles import security_infos as fsi  # what the firmware accepts (E's helpers)

    if ca_spki is not None and "DG14" in names:
        files["DG14"] = encode_tlv(0x6E, fsi.dg14_security_infos(profile, ca_spki))
    if aa_spki is not None and "DG15" in names:
        files["DG15"] = encode_tlv(0x6F, aa_spki)
    dgs = sorted(int(n[2:]) for n in files if n.startswith("DG"))
    if "DG3" in names:
        dgs = sorted([*dgs, 3])  # listed, EAC-protected; present on the chip with a placeholder
        files["DG3"] = encode_tlv(0x63, encode_tlv(0x02, b"\x00"))
    files["EF.COM"] = _com(dgs)
    if before_sign:
        before_sign(files)
    h = {"sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}[sod_hash]
    hashes = {int(n[2:]): hashlib.new(h, d).digest() for n, d in files.items() if n.startswith("DG")}
    lso = build_lds_security_object(h, hashes)
    st = signing_time or pki.at - timedelta(days=1)
    files["EF.SOD"] = SOD.from_content_info(
        pki.signed_data(ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT, lso.dump(), st)).to_bytes()
    if profile.pace is not None and "EF.CardAccess" in names:
        files["EF.CardAccess"] = fsi.card_access_bytes(profile)
    if "EF.CardSecurity" in names and ca_spki is not None:
        econtent = _security_infos(_pace_infos(profile) + _ca_infos(profile, ca_spki))
        files["EF.CardSecurity"] = pki.signed_data(ID_SECURITY_OBJECT, econtent, st).dump()
    if after_sign:
        after_sign(files)
    return files


@dataclass
class PersonalizedCard:
    """A personalized, locked virtual chip and what a test needs to know about it."""

    chip: Any
    state: Any
    files: dict[str, bytes]
    pki: TestPKI
    profile: Any
    mrz: str = SPECIMEN_MRZ
    can: str = SPECIMEN_CAN
    keys: dict[str, bytes] = field(default_factory=dict)


MASTER_TK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")


def personalize(profile_name: str, pki: TestPKI | None = None, *, serial: str | None = None,
                clone_of: PersonalizedCard | None = None, **build: Any) -> PersonalizedCard:
    """Personalize a blank virtual chip of `profile_name` through the dialect (as issuance will).

    `clone_of`: write exactly the files of another card but keep this chip's own, freshly generated
    CA/AA keys — a cloned chip (same data, different keys)."""
    from firmware_profiles import diversify_transport_key, load_profile, new_blank_card
    from firmware_profiles.chip import ChipTransport, VirtualChip
    from firmware_profiles.dialect import PersonalizationSession
    from reader.access import mrz_key_from_text

    profile = load_profile(profile_name)
    pki = pki or (clone_of.pki if clone_of else TestPKI())
    serial = serial or os.urandom(8).hex().upper()
    tk = diversify_transport_key(MASTER_TK, serial)
    state = new_blank_card(profile, serial, tk)
    chip = VirtualChip(state)
    t = ChipTransport(chip)
    s = PersonalizationSession(t, profile)
    s.authenticate(tk)
    gen: dict[str, bytes] = {}
    if profile.chip_authentication is not None:
        gen["CA"] = s.generate_key_pair("CA")
    if profile.active_authentication is not None:
        gen["AA"] = s.generate_key_pair("AA")
    if clone_of is not None:
        files = dict(clone_of.files)
        mrz = clone_of.mrz
    else:
        mrz = build.pop("mrz", SPECIMEN_MRZ)
        files = build_card_files(profile, pki, ca_spki=gen.get("CA"), aa_spki=gen.get("AA"), mrz=mrz, **build)
    dg_names = sorted((n for n in files if n.startswith("DG")), key=lambda n: int(n[2:]))
    order = ["EF.CardAccess", "EF.CardSecurity", "EF.COM", "EF.SOD", *dg_names]
    for name in order:
        if name in files:
            s.write_file(name, files[name])
    key = mrz_key_from_text(mrz)
    can = mrz[15:27] if mrz[15:27].isdigit() else SPECIMEN_ID
    s.set_access_keys(key, can[-6:] if profile.pace else None)
    s.lock()
    chip.power_off()
    return PersonalizedCard(chip, state, files, pki, profile, mrz, can[-6:], gen)


def with_files(card: PersonalizedCard, files: Mapping[str, bytes]) -> Any:
    """A new virtual chip with `card`'s keys and state but these file contents (a copy: `card` is
    untouched). The fast way to give a test a chip that returns mutated files."""
    import copy

    from firmware_profiles.chip import VirtualChip
    from firmware_profiles.state import StoredFile

    state = copy.deepcopy(card.state)
    state.path = None
    for name, data in files.items():
        spec = card.profile.file_by_name(name)
        state.files[(spec.df, spec.fid)] = StoredFile(spec.df, spec.fid, len(data), bytearray(data))
    return VirtualChip(state)


def resign(card: PersonalizedCard, pki: TestPKI | None = None, **build: Any) -> tuple[Any, dict[str, bytes]]:
    """Rebuild and re-sign every file of `card` (same chip keys, MRZ) with `build` options, on a copy."""
    build.setdefault("mrz", card.mrz)
    files = build_card_files(card.profile, pki or card.pki, ca_spki=card.keys.get("CA"),
                             aa_spki=card.keys.get("AA"), **build)
    return with_files(card, files), files
