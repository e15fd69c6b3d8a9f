"""The receipt certificate: what verifies a verification receipt offline."""

from __future__ import annotations

from fastapi import APIRouter, Response

from station_api.api.deps import ReceiptSignerDep

router = APIRouter(prefix="/receipts", tags=["receipts"])

PEM_CHAIN = "application/pem-certificate-chain"  # RFC 8555 §9.1


@router.get(
    "/certificate",
    summary="The receipt certificate and its Service CA (PEM chain, public)",
    description=(
        "Verify a receipt offline: SHA-256 of the first certificate (DER) equals the receipt's "
        "`certificate_sha256`, and its public key verifies `signature` over the canonical JSON of `payload` "
        "(sorted keys, no spaces, UTF-8). The Service CA is not a CSCA: it certifies service keys only."
    ),
    response_class=Response,
    responses={200: {"content": {PEM_CHAIN: {"schema": {"type": "string"}}}}},
)
def certificate(signer: ReceiptSignerDep) -> Response:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    pems = [x509.load_der_x509_certificate(signer.certificate_der).public_bytes(Encoding.PEM)]
    if signer.ca_certificate_der:
        pems.append(x509.load_der_x509_certificate(signer.ca_certificate_der).public_bytes(Encoding.PEM))
    return Response(b"".join(pems), media_type=PEM_CHAIN)
