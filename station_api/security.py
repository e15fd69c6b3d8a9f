"""Operator credentials: scrypt password hashes, HMAC-signed bearer tokens, forwarded client certificates."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from station_api.errors import ProblemCode, Unauthenticated

_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_DKLEN = 32


def hash_password(password: str, *, n: int = 2**14) -> str:
    """Salted scrypt (RFC 7914) hash, stored as ``scrypt$N$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_DKLEN, maxmem=2**26
    )
    return "$".join(("scrypt", str(n), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> None:
    """Raise :class:`Unauthenticated` unless ``password`` matches ``stored`` (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=2**26,
        )
    except (ValueError, TypeError) as exc:
        raise Unauthenticated("invalid credentials", code=ProblemCode.INVALID_CREDENTIALS) from exc
    if not hmac.compare_digest(actual, expected):
        raise Unauthenticated("invalid credentials", code=ProblemCode.INVALID_CREDENTIALS)


@functools.cache
def _dummy_hash(n: int) -> str:
    return hash_password(secrets.token_hex(8), n=n)


def burn_password_check(password: str, *, n: int = 2**14) -> None:
    """Spend the time of a real check (at the configured cost ``n``) when the account does not exist,
    so that response time is no account-name oracle."""
    try:
        verify_password(password, _dummy_hash(n))
    except Unauthenticated:
        pass


# --- bearer tokens ---------------------------------------------------------------------------------

_TOKEN_VERSION = "v1"  # noqa: S105


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a bearer token asserts. The operator row is re-read on every request (revocation)."""

    operator_id: int
    role: str
    agency: str | None
    issued_at: int
    expires_at: int
    token_id: str
    method: str  # "password" | "client_certificate"

    def to_json(self) -> dict[str, object]:
        return {
            "sub": self.operator_id,
            "rol": self.role,
            "agy": self.agency,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "jti": self.token_id,
            "amr": self.method,
        }


class TokenCodec:
    """Compact ``v1.<payload>.<mac>`` tokens; MAC = HMAC-SHA256 over ``v1.<payload>`` (RFC 2104).

    Decision: a self-contained HMAC token instead of a JWT library: one algorithm, no ``alg`` header to
    negotiate, verified in constant time; the server is the only issuer and the only verifier.
    """

    def __init__(self, secret: bytes, lifetime_s: int) -> None:
        if len(secret) < 16:
            raise ValueError("token secret too short")
        self._key = hashlib.sha256(b"cancuoc station token v1" + secret).digest()
        self.lifetime_s = lifetime_s

    def issue(
        self, operator_id: int, role: str, agency: str | None, method: str, *, now: int | None = None
    ) -> tuple[str, TokenClaims]:
        now = int(time.time()) if now is None else now
        claims = TokenClaims(operator_id, role, agency, now, now + self.lifetime_s, secrets.token_hex(8), method)
        payload = _b64(json.dumps(claims.to_json(), separators=(",", ":"), sort_keys=True).encode())
        signed = f"{_TOKEN_VERSION}.{payload}"
        return f"{signed}.{_b64(self._mac(signed))}", claims

    def verify(self, token: str, *, now: int | None = None) -> TokenClaims:
        """Raise :class:`Unauthenticated` unless the token is intact and unexpired."""
        now = int(time.time()) if now is None else now
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _TOKEN_VERSION or len(token) > 2048:
            raise Unauthenticated("malformed bearer token", code=ProblemCode.TOKEN_INVALID)
        signed = f"{parts[0]}.{parts[1]}"
        try:
            mac = _unb64(parts[2])
        except ValueError as exc:
            raise Unauthenticated("malformed bearer token", code=ProblemCode.TOKEN_INVALID) from exc
        if not hmac.compare_digest(mac, self._mac(signed)):
            raise Unauthenticated("bearer token signature invalid", code=ProblemCode.TOKEN_INVALID)
        try:
            data = json.loads(_unb64(parts[1]))
            claims = TokenClaims(
                int(data["sub"]),
                str(data["rol"]),
                data["agy"],
                int(data["iat"]),
                int(data["exp"]),
                str(data["jti"]),
                str(data["amr"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise Unauthenticated("malformed bearer token", code=ProblemCode.TOKEN_INVALID) from exc
        if now >= claims.expires_at:
            raise Unauthenticated("bearer token expired", code=ProblemCode.TOKEN_EXPIRED)
        return claims

    def _mac(self, signed: str) -> bytes:
        return hmac.new(self._key, signed.encode(), hashlib.sha256).digest()


# --- station client certificates -------------------------------------------------------------------


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 over the DER certificate, lower-case hex: how station certificates are pinned."""
    return cert.fingerprint(hashes.SHA256()).hex()


def parse_forwarded_certificate(header_value: str, *, now: datetime | None = None) -> x509.Certificate:
    """Parse the client certificate a trusted TLS proxy forwarded (URL-escaped PEM, as nginx
    ``$ssl_client_escaped_cert``), and check its validity period at ``now``.

    Decision: TLS and the certificate chain are verified by the proxy that terminates mutual TLS; this
    service believes the header only from :attr:`ApiSettings.api_trusted_proxies` and additionally pins the
    certificate by SHA-256 fingerprint to one operator account (no station CA needed in this service).
    """
    now = now or datetime.now(UTC)
    if len(header_value) > 16384:
        raise Unauthenticated("client certificate too large", code=ProblemCode.CLIENT_CERTIFICATE_REFUSED)
    try:
        pem = urllib.parse.unquote(header_value).encode()
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise Unauthenticated("client certificate unreadable", code=ProblemCode.CLIENT_CERTIFICATE_REFUSED) from exc
    if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
        raise Unauthenticated(
            "client certificate outside its validity period", code=ProblemCode.CLIENT_CERTIFICATE_REFUSED
        )
    return cert


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("bad base64") from exc
