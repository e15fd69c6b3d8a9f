"""Verification receipts: a decision signed with the service's own receipt key, verifiable offline.

Format ``cancuoc-receipt/1`` (JSON)::

    {"format": "cancuoc-receipt/1",
     "payload": {...},                    # the decision, see build_receipt_payload
     "signature": "<base64>",             # over canonical_json(payload) as UTF-8
     "signature_algorithm": "ecdsa-with-SHA256" | "rsassa-pss-SHA256",
     "certificate_sha256": "<hex>"}       # SHA-256 of the receipt certificate (DER)

Decision: the signature covers the canonical JSON of the payload (sorted keys, no spaces, UTF-8),
so any party can re-create the exact signed bytes from the JSON alone; ECDSA signatures are DER
(RFC 3279 §2.2.3). The receipt key is a *service* key certified by the PKI's Service CA, never a
Document Signer: a receipt can never pass for an SOD signature and vice versa. The receipt holds a
SHA-256 digest of the fields shown to the agency, not the fields themselves.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

RECEIPT_FORMAT = "cancuoc-receipt/1"


class ReceiptInvalid(Exception):
    """A receipt that does not verify; ``reason`` is stable."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ReceiptSigner(Protocol):
    """What the API needs from the receipt key (kept in the PKI key store)."""

    @property
    def certificate_der(self) -> bytes: ...

    @property
    def ca_certificate_der(self) -> bytes | None: ...

    @property
    def algorithm(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fields_digest(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(fields))).hexdigest()


def sign_receipt(signer: ReceiptSigner, payload: Mapping[str, Any]) -> dict[str, Any]:
    data = canonical_json(dict(payload))
    return {
        "format": RECEIPT_FORMAT,
        "payload": dict(payload),
        "signature": base64.b64encode(signer.sign(data)).decode(),
        "signature_algorithm": signer.algorithm,
        "certificate_sha256": hashlib.sha256(signer.certificate_der).hexdigest(),
    }


def verify_receipt(receipt: Mapping[str, Any], certificate: bytes | x509.Certificate) -> Mapping[str, Any]:
    """Verify ``receipt`` with the published receipt certificate (DER or loaded); return its payload.

    Raises :class:`ReceiptInvalid` (reasons ``format``, ``certificate_mismatch``, ``signature_invalid``,
    ``algorithm_unsupported``). The certificate's own chain to the Service CA is the verifier's business.
    """
    if isinstance(certificate, x509.Certificate):
        cert = certificate
    else:
        cert = x509.load_der_x509_certificate(certificate)
    try:
        if receipt.get("format") != RECEIPT_FORMAT:
            raise ReceiptInvalid("format")
        payload = receipt["payload"]
        signature = base64.b64decode(receipt["signature"], validate=True)
        algorithm = receipt["signature_algorithm"]
        expected_fp = receipt["certificate_sha256"]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ReceiptInvalid("format") from exc
    if not isinstance(payload, Mapping):
        raise ReceiptInvalid("format")
    from cryptography.hazmat.primitives.serialization import Encoding

    if hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() != expected_fp:
        raise ReceiptInvalid("certificate_mismatch")
    data = canonical_json(dict(payload))
    key = cert.public_key()
    try:
        if algorithm == "ecdsa-with-SHA256" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif algorithm == "rsassa-pss-SHA256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO), hashes.SHA256())
        else:
            raise ReceiptInvalid("algorithm_unsupported")
    except InvalidSignature as exc:
        raise ReceiptInvalid("signature_invalid") from exc
    return payload
