"""Benchmark: EF.SOD parse + hash check of every data group per second, beside raw hashlib SHA-256 (the floor);
parse of every LDS file of the card (DG2 in both face formats, DG14 with a standardizedDomainParameters
CA key) beside a bare BER-TLV walk of the same bytes (the floor).

Builds a realistic card in memory (DG1 TD1, DG2 with a ~15 KB face record, DG13, DG14, DG15) and an
EF.SOD signed with a throwaway ECDSA key using asn1crypto + cryptography directly (not pki/).
Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time

from asn1crypto import cms, keys
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from icao9303.lds import (
    DG1,
    DG2,
    DG13,
    DG14,
    DG15,
    SOD,
    SecurityInfos,
    build_lds_security_object,
    hash_data_groups,
    oids,
)
from icao9303.lds.files import parse_lds_file
from icao9303.lds.security_infos import ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo, SubjectPublicKeyInfo
from icao9303.mrz import MRZ
from icao9303.tlv import parse_tlv


def build_card() -> dict[int, bytes]:
    mrz = MRZ.for_vn_card("079090012345", "Nguyễn Văn An", dt.date(1990, 3, 15), "M", dt.date(2030, 3, 15))
    fake_jpeg = b"\xff\xd8\xff\xe0" + os.urandom(15_000) + b"\xff\xd9"
    ca_key = ec.generate_private_key(ec.BrainpoolP256R1())
    spki = ca_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    dg14 = DG14(
        SecurityInfos.build(
            [
                ChipAuthenticationInfo({"protocol": oids.ID_CA_ECDH_AES_CBC_CMAC_128, "version": 1}),
                ChipAuthenticationPublicKeyInfo(
                    {"protocol": oids.ID_PK_ECDH, "chip_authentication_public_key": keys.PublicKeyInfo.load(spki)}
                ),
            ]
        )
    )
    aa_key = ec.generate_private_key(ec.SECP256R1())
    aa_spki = aa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    dg13 = DG13.build(
        personal_id="079090012345",
        full_name="Nguyễn Văn An",
        date_of_birth="15/03/1990",
        sex="Nam",
        nationality="Việt Nam",
        ethnicity="Kinh",
        religion="Không",
        place_of_origin="Quảng Nam",
        place_of_residence="1 Lê Lợi, Quận 1, TP Hồ Chí Minh",
        date_of_issue="01/05/2021",
        date_of_expiry="15/03/2030",
        father_name="Nguyễn Văn Bình",
        mother_name="Trần Thị Cúc",
    )
    return {
        1: DG1(mrz).to_bytes(),
        2: DG2.from_image(fake_jpeg, 480, 640).to_bytes(),
        13: dg13.to_bytes(),
        14: dg14.to_bytes(),
        15: DG15.from_public_key_der(aa_spki).to_bytes(),
    }


def build_sod(dgs: dict[int, bytes]) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, "DS")])
    now = dt.datetime.now(dt.UTC)
    cert = a_x509.Certificate.load(
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=90))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    lso = build_lds_security_object(
        "sha256", hash_data_groups("sha256", dgs), lds_version="0108", unicode_version="040000"
    )
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["lds_security_object"]},
            {"type": "message_digest", "values": [hashlib.sha256(lso.dump()).digest()]},
        ]
    )
    sd = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "lds_security_object", "content": lso},
            "certificates": [cert],
            "signer_infos": [
                {
                    "version": "v1",
                    "sid": {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}},
                    "digest_algorithm": {"algorithm": "sha256"},
                    "signed_attrs": attrs,
                    "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                    "signature": key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256())),
                }
            ],
        }
    )
    return SOD.from_content_info(cms.ContentInfo({"content_type": "signed_data", "content": sd})).to_bytes()


def rate(fn, seconds: float = 1.5) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def main() -> None:
    dgs = build_card()
    sod_bytes = build_sod(dgs)
    total = sum(len(v) for v in dgs.values())

    def parse_and_check() -> None:
        sod = SOD.from_bytes(sod_bytes)
        for n, data in dgs.items():
            sod.verify_data_group(n, data)

    def parse_only() -> None:
        SOD.from_bytes(sod_bytes).dg_hashes  # noqa: B018

    def hash_only() -> None:
        for data in dgs.values():
            hashlib.sha256(data).digest()

    blob = os.urandom(1 << 20)
    mb_s = rate(lambda: hashlib.sha256(blob).digest()) * 1.0

    r_full, r_parse, r_hash = rate(parse_and_check), rate(parse_only), rate(hash_only)

    # every LDS file through its class, vs a bare TLV walk; DG2 in 39794-5; DG14 with a standardized key
    fake_jpeg = b"\xff\xd8\xff\xe0" + os.urandom(15_000) + b"\xff\xd9"
    files = {f"DG{n}": data for n, data in dgs.items()}
    files["DG2-39794"] = DG2.from_image_39794(fake_jpeg, 480, 640).to_bytes()
    point = ec.generate_private_key(ec.BrainpoolP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    std_key = SubjectPublicKeyInfo(
        {"algorithm": {"algorithm": "standardized_domain_parameters", "parameters": 13}, "public_key": point})
    files["DG14-std"] = DG14(SecurityInfos.build([ChipAuthenticationPublicKeyInfo(
        {"protocol": oids.ID_PK_ECDH, "chip_authentication_public_key": std_key, "key_id": 1})])).to_bytes()
    files["EF.SOD"] = sod_bytes

    def parse_files() -> None:
        for name, data in files.items():
            parse_lds_file(name.split("-")[0], data)

    def walk_files() -> None:
        for data in files.values():
            parse_tlv(data)

    r_files, r_walk = rate(parse_files), rate(walk_files)
    per_file = {
        name: rate(lambda d=data, n=name: parse_lds_file(n.split("-")[0], d), 0.4) for name, data in files.items()
    }
    print(f"card: {len(dgs)} DGs, {total} bytes; EF.SOD {len(sod_bytes)} bytes (SHA-256, ECDSA P-256 DS)")
    print(f"{'measure':44} {'per second':>12}")
    print(f"{'SOD parse + all-DG hash check':44} {r_full:12.0f}")
    print(f"{'SOD parse only (LDSSecurityObject + CMS)':44} {r_parse:12.0f}")
    print(f"{'floor: hashlib SHA-256 of the same DGs':44} {r_hash:12.0f}")
    print(f"{'floor: hashlib SHA-256 throughput (MB/s)':44} {mb_s:12.0f}")
    print(f"{'parse all ' + str(len(files)) + ' files through their classes':44} {r_files:12.0f}")
    print(f"{'floor: bare BER-TLV walk of the same files':44} {r_walk:12.0f}")
    for name, r in per_file.items():
        print(f"{'  parse ' + name + f' ({len(files[name])} bytes)':44} {r:12.0f}")


if __name__ == "__main__":
    main()
