"""Official vector: the BSI TR-03105-5 reference EF.SOD (RSA-PSS) through the CMS verifier, the linter
and path validation (see tests/vectors/pki/README.md for provenance)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from icao9303.lds.sod import SOD
from pki.cms import verify_signed_data
from pki.errors import CMSError, PKIValidationError
from pki.lint import lint_certificate
from pki.truststore import TrustStore
from pki.validation import validate_ds_path

VECTOR = Path(__file__).parent / "vectors" / "pki" / "bsi_tr03105_5_ef_sod.hex"


@pytest.fixture(scope="module")
def sod_bytes() -> bytes:
    return bytes.fromhex(VECTOR.read_text().strip())


def test_bsi_reference_sod_verifies(sod_bytes):
    sod = SOD.from_bytes(sod_bytes)
    result = verify_signed_data(sod.content_info, expected_content_type="2.23.136.1.1.1")
    assert (result.signature_scheme, result.hash_algorithm, result.digest_algorithm) == ("pss", "sha256", "sha256")
    assert result.signer_certificate.serial_number == 0x0142FD5CF927
    assert result.signer_certificate.subject.native["common_name"] == "HJP PB DS"
    assert result.econtent == sod.econtent_bytes
    assert sorted(sod.dg_hashes) == [1, 2, 3, 4, 14]


def test_bsi_reference_sod_tampered_fails(sod_bytes):
    data = bytearray(sod_bytes)
    data[-1] ^= 0x01  # last byte of the RSA-PSS signature
    with pytest.raises(CMSError) as info:
        verify_signed_data(SOD.from_bytes(bytes(data)).content_info)
    assert info.value.code == "CMS_SIGNATURE_INVALID"
    data = bytearray(sod_bytes)
    data[100] ^= 0x01  # inside a data group hash in the eContent
    with pytest.raises(CMSError) as info:
        verify_signed_data(SOD.from_bytes(bytes(data)).content_info)
    assert info.value.code == "CMS_DIGEST_MISMATCH"


def test_foreign_ds_certificate_lint(sod_bytes):
    cert = SOD.from_bytes(sod_bytes).certificates[0]
    findings = {f.code: f.severity for f in lint_certificate(cert, "HJP PB DS")}
    assert findings == {
        "PKUP_MISSING": "error",
        "DOCTYPE_MISSING": "error",
        "SAN_MISSING": "warning",
        "IAN_MISSING": "warning",
        "CRLDP_MISSING": "warning",
    }


def test_foreign_ds_without_its_csca_is_unknown(sod_bytes):
    cert = SOD.from_bytes(sod_bytes).certificates[0]
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(cert, datetime(2014, 6, 1, tzinfo=UTC), TrustStore())
    assert info.value.code == "CSCA_UNKNOWN"
