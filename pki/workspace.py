"""The issuer's PKI workspace: CSCA, Document Signers, ML signer, link certificates, CRLs, `sign_sod`.

Layout of ``home`` (the settings' ``pki_dir``)::

    state.json        every certificate issued, its role, status and signature count; the policy
    certs/*.der       certificates (csca-G, link-A-to-B, ds-NNNN, mls-NNNN, service-*)
    crls/*.der        CRLs, one series per CSCA generation
    masterlists/*.ml  CSCA master lists (CMS SignedData)
    audit.jsonl       hash-chained trail of every key operation (`pki.audit`)

Key lifetimes follow ICAO 9303-12 §5 and the policy dataclasses below. Every mutating operation holds an
exclusive lock on ``home/.lock`` so several processes (station API workers) can sign SODs safely.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import crl as asn1crl
from asn1crypto import x509

from pki.algorithms import KeySpec, SignatureScheme, hash_name
from pki.asn1 import ID_ICAO_CSCA_MASTER_LIST, ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT, CscaMasterList
from pki.audit import AuditedKeyStore, AuditTrail
from pki.cms import build_signed_data
from pki.errors import PKIError, SigningRefused, WorkspaceError
from pki.keystore import KeyStore, _atomic_write
from pki.profiles import (
    CRL_REASONS,
    RevokedEntry,
    Signer,
    build_certificate,
    build_crl,
    build_name,
    certificate_fingerprint,
    key_identifier,
    utc,
)

DAY = timedelta(days=1)


@dataclass(frozen=True)
class RotationPolicy:
    """When the current Document Signer stops signing (9303-12 §5.3; LESSONS: ≤ 3 months or ≤ 100,000).

    Attributes:
        max_signing_age: the DS key signs for at most this long after activation.
        max_signatures: and at most this many SODs (None: no count limit).
        auto_rotate: when a limit is reached, `sign_sod` rotates to a new DS itself (True) or refuses with
            SIGNING_REFUSED/DS_ROTATION_DUE until an operator runs ``rotate-ds`` (False).
    """

    max_signing_age_days: int = 90
    max_signatures: int | None = 100_000
    auto_rotate: bool = True


@dataclass(frozen=True)
class IssuerPolicy:
    """Algorithms, names and lifetimes of the issuing PKI (stored in state.json at `init`).

    Attributes:
        country: ISO 3166-1 alpha-2 code in every subject and issuer (9303-12 §7.1.1.2).
        organization: organizationName of every subject.
        csca_key / ds_key / mls_key: `KeySpec` strings (``ec:brainpoolP384r1``, ``rsa:3072``...).
        csca_hash / ds_hash / mls_hash: SHA-256/384/512 for each signer.
        rsa_scheme: ``pss`` (default) or ``pkcs1v15`` for RSA keys.
        csca_key_usage_days: CSCA private key usage period (9303-12 §5: 3–5 years).
        ds_key_usage_days: DS private key usage period (≤ 3 months plus margin for the rotation policy).
        longest_document_validity_days: longest validity of a document a DS signs (see the decision below).
        mls_key_usage_days / mls_validity_extra_days: ML signer key usage and extra certificate validity.
        crl_next_update_days: nextUpdate − thisUpdate of every CRL (9303-12 §7.1.4: at most 90 days).
        document_types: the DS document type list (9303-12 §7.1.1.3); the VN card is ``ID`` (``I`` too).
        alt_name_uri: subject/issuer alternative name (contact URI).
        crl_uri: cRLDistributionPoints URI (9303-12 recommends the ICAO PKD download URL).

    Decision (DS validity and cards that never expire): a DS certificate is valid for its key usage
    period + ``longest_document_validity_days`` = 25 years, which covers every *finite* Vietnamese card
    (the longest is issued at 38 and valid to 60: 22 years; see VN_CARD.md). Cards issued from age 58 have
    no expiry (MRZ 991231); their SODs are checked with the chain model: `ValidationPolicy.chain_model`
    accepts a DS that has since expired if the DS key was within its private key usage period when the
    SOD was signed (`validate_ds_path(..., signed_at=...)`). No certificate claims a validity of a century.
    """

    country: str = "VN"
    organization: str = "Ministry of Public Security"
    csca_key: str = "ec:brainpoolP384r1"
    csca_hash: str = "sha384"
    ds_key: str = "ec:brainpoolP256r1"
    ds_hash: str = "sha256"
    mls_key: str = "ec:brainpoolP256r1"
    mls_hash: str = "sha256"
    rsa_scheme: str = "pss"
    csca_key_usage_days: int = 5 * 365
    ds_key_usage_days: int = 100
    longest_document_validity_days: int = 25 * 365 + 6
    mls_key_usage_days: int = 365
    mls_validity_extra_days: int = 365
    crl_next_update_days: int = 30
    document_types: tuple[str, ...] = ("ID", "I")
    alt_name_uri: str = "https://csca.cancuoc.invalid/"
    crl_uri: str = "https://pkddownloadsg.icao.int/CRLs/VNM.crl"
    rotation: RotationPolicy = field(default_factory=RotationPolicy)

    def __post_init__(self) -> None:
        for spec in (self.csca_key, self.ds_key, self.mls_key):
            KeySpec.parse(spec)
        for h in (self.csca_hash, self.ds_hash, self.mls_hash):
            hash_name(h)
        if self.rsa_scheme not in ("pss", "pkcs1v15"):
            raise PKIError(f"rsa_scheme {self.rsa_scheme!r}", code="POLICY_INVALID")
        if not 1 <= self.crl_next_update_days <= 90:
            raise PKIError("crl_next_update_days must be 1..90 (9303-12 §7.1.4)", code="POLICY_INVALID")
        if self.rotation.max_signing_age_days > self.ds_key_usage_days:
            raise PKIError("DS rotation age exceeds the DS key usage period", code="POLICY_INVALID")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["document_types"] = list(self.document_types)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IssuerPolicy:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "rotation" in values:
            values["rotation"] = RotationPolicy(**values["rotation"])
        if "document_types" in values:
            values["document_types"] = tuple(values["document_types"])
        return cls(**values)

    def scheme_for(self, spec: str) -> SignatureScheme:
        return "ecdsa" if KeySpec.parse(spec).kind == "ec" else self.rsa_scheme  # type: ignore[return-value]


@dataclass(frozen=True)
class CertRecord:
    """One certificate the workspace issued, as kept in state.json."""

    role: str  # csca | link | ds | mls | service_ca | service
    serial: int
    label: str | None  # key label in the key store (None for link certificates)
    file: str
    issuer_generation: int  # CSCA generation that signed it (service: 0)
    status: str = "active"  # current | active | retired | revoked
    generation: int | None = None  # csca only
    activated: str | None = None
    signatures: int = 0
    revoked_at: str | None = None
    reason: str | None = None
    name: str | None = None  # service keys

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["serial"] = str(self.serial)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertRecord:
        values = dict(data)
        values["serial"] = int(values["serial"])
        return cls(**values)


def _iso(dt: datetime) -> str:
    return utc(dt).isoformat()


def _parse(dt: str) -> datetime:
    return datetime.fromisoformat(dt)


class PKI:
    """The issuer: ``PKI(home, keystore)``; ``init()`` once, then rotate, roll over, revoke, sign.

    Every method that depends on time takes ``now`` (default: the current UTC time) so operations can be
    replayed and tested at any date.
    """

    STATE = "state.json"

    def __init__(self, home: str | os.PathLike[str], keystore: KeyStore, *, fsync_audit: bool = True) -> None:
        self.home = Path(home)
        self.audit = AuditTrail(self.home / "audit.jsonl", fsync=fsync_audit)
        self.raw_keystore = keystore
        self.keystore = AuditedKeyStore(keystore, self.audit)
        self._state: dict[str, Any] | None = None
        self._state_mtime: int | None = None
        self._cert_cache: dict[str, x509.Certificate] = {}
        self._policy_cache: tuple[dict[str, Any], IssuerPolicy] | None = None

    def __repr__(self) -> str:
        return f"PKI({str(self.home)!r})"

    # -- persistence ---------------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.home / self.STATE).exists()

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self._load()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> dict[str, Any]:
        path = self.home / self.STATE
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            raise WorkspaceError(
                f"no PKI workspace at {self.home}: run `cancuoc pki init`", code="WORKSPACE_MISSING"
            ) from None
        if self._state is None or mtime != self._state_mtime:
            try:
                self._state = json.loads(path.read_text())
            except ValueError as exc:
                raise WorkspaceError(f"{path} is damaged", code="WORKSPACE_DAMAGED") from exc
            self._state_mtime = mtime
        return self._state

    def _save(self, state: dict[str, Any], *, durable: bool = True) -> None:
        data = json.dumps(state, indent=1, sort_keys=True).encode()
        path = self.home / self.STATE
        if durable:
            _atomic_write(path, data)
        else:  # signature counters: the fsynced audit trail is the durable record of each signature
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        self._state = state
        self._state_mtime = path.stat().st_mtime_ns

    @property
    def policy(self) -> IssuerPolicy:
        if self._state is not None and not self.initialised:  # during init, before the first save
            return IssuerPolicy.from_json(self._state["policy"])
        raw = self._load()["policy"]
        cached = self._policy_cache
        if cached is None or cached[0] is not raw:
            cached = self._policy_cache = (raw, IssuerPolicy.from_json(raw))
        return cached[1]

    def _records(self, state: dict[str, Any], role: str | None = None) -> list[CertRecord]:
        recs = [CertRecord.from_json(r) for r in state["certificates"]]
        return [r for r in recs if role is None or r.role == role]

    def _put(self, state: dict[str, Any], record: CertRecord) -> None:
        rows = state["certificates"]
        for i, row in enumerate(rows):
            if int(row["serial"]) == record.serial and row["file"] == record.file:
                rows[i] = record.to_json()
                return
        rows.append(record.to_json())

    def certificate(self, record: CertRecord) -> x509.Certificate:
        cert = self._cert_cache.get(record.file)
        if cert is None:
            cert = x509.Certificate.load((self.home / record.file).read_bytes())
            self._cert_cache[record.file] = cert
        return cert

    def _write_cert(self, name: str, cert: x509.Certificate) -> str:
        rel = f"certs/{name}.der"
        (self.home / "certs").mkdir(parents=True, exist_ok=True)
        _atomic_write(self.home / rel, cert.dump())
        self._cert_cache[rel] = cert
        return rel

    # -- helpers ---------------------------------------------------------------------------------
    def _signer(self, label: str, spec: str, hash_alg: str, **context: Any) -> Signer:
        return Signer(self.keystore, label, hash_alg, self.policy.scheme_for(spec), tuple(context.items()))

    def _csca(self, state: dict[str, Any], generation: int | None = None) -> CertRecord:
        cscas = self._records(state, "csca")
        if generation is None:
            found = [r for r in cscas if r.status == "current"]
        else:
            found = [r for r in cscas if r.generation == generation]
        if not found:
            raise WorkspaceError("no such CSCA generation", code="WORKSPACE_DAMAGED")
        return found[0]

    def _csca_signer(self, state: dict[str, Any], rec: CertRecord, now: datetime, **context: Any) -> Signer:
        cert = self.certificate(rec)
        pkup = cert.private_key_usage_period_value
        if pkup is not None and not (pkup["not_before"].native <= now <= pkup["not_after"].native):
            raise SigningRefused(
                f"CSCA generation {rec.generation} is outside its private key usage period: "
                "run `cancuoc pki rollover-csca`",
                code="CSCA_KEY_USAGE_ENDED",
                at=now,
            )
        return self._signer(rec.label, self.policy.csca_key, self.policy.csca_hash, **context)

    def _next_label(self, state: dict[str, Any], prefix: str) -> str:
        state["counter"] = state.get("counter", 0) + 1
        return f"{state.get('key_prefix', '')}{prefix}-{state['counter']:04d}"

    @staticmethod
    def _now(now: datetime | None) -> datetime:
        return utc(now or datetime.now(UTC))

    def _name(self, cn: str) -> x509.Name:
        p = self.policy
        return build_name(p.country, p.organization, cn)

    # -- init ------------------------------------------------------------------------------------
    def init(
        self, policy: IssuerPolicy | None = None, now: datetime | None = None, key_prefix: str | None = None
    ) -> dict[str, Any]:
        """Create CSCA generation 1, the ML signer, the first DS and the first CRL (``cancuoc pki init``).

        Key labels are ``<key_prefix>csca-01``, ``<key_prefix>ds-0002``...; the default prefix is ``vn-``
        plus 6 random hex digits and a dash, so several workspaces can share one HSM token.
        """
        policy = policy or IssuerPolicy()
        if key_prefix is None:
            key_prefix = f"vn-{os.urandom(3).hex()}-"
        now = self._now(now)
        if self.initialised:
            raise WorkspaceError(f"PKI workspace {self.home} is already initialised", code="WORKSPACE_EXISTS")
        self.home.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {
            "version": 1,
            "policy": policy.to_json(),
            "certificates": [],
            "crls": [],
            "crl_numbers": {},
            "counter": 0,
            "key_prefix": key_prefix,
            "created": _iso(now),
        }
        self._state = state
        self._create_csca(state, 1, now)
        self._issue_mls(state, now)
        self._issue_ds(state, now, reason="init")
        self._save(state)
        self.audit.append("pki.init", None, now=now, country=policy.country)
        self.issue_crl(now)
        return self.status(now)

    def _create_csca(self, state: dict[str, Any], generation: int, now: datetime) -> tuple[CertRecord, Any]:
        p = IssuerPolicy.from_json(state["policy"])
        label = f"{state.get('key_prefix', '')}csca-{generation:02d}"
        public = self.keystore.generate_key_pair(label, KeySpec.parse(p.csca_key), purpose="csca")
        ku_end = now + p.csca_key_usage_days * DAY
        not_after = ku_end + (p.ds_key_usage_days + p.longest_document_validity_days) * DAY
        name = build_name(p.country, p.organization, f"CSCA Vietnam {generation:02d}")
        signer = Signer(self.keystore, label, p.csca_hash, p.scheme_for(p.csca_key), (("purpose", "csca.self"),))
        cert = build_certificate(
            role="csca",
            signer=signer,
            issuer=name,
            issuer_key_id=key_identifier(public),
            subject=name,
            public_key=public,
            not_before=now,
            not_after=not_after,
            private_key_usage=(now, ku_end),
            alt_name_uri=p.alt_name_uri,
            crl_uri=p.crl_uri,
        )
        rel = self._write_cert(f"csca-{generation:02d}", cert)
        rec = CertRecord("csca", cert.serial_number, label, rel, generation, "current", generation, _iso(now))
        self._put(state, rec)
        return rec, public

    def _issue_mls(self, state: dict[str, Any], now: datetime) -> CertRecord:
        p = IssuerPolicy.from_json(state["policy"])
        csca = self._csca(state)
        label = self._next_label(state, "mls")
        public = self.keystore.generate_key_pair(label, KeySpec.parse(p.mls_key), purpose="mls")
        ku_end = now + p.mls_key_usage_days * DAY
        csca_cert = self.certificate(csca)
        cert = build_certificate(
            role="mls",
            signer=self._csca_signer(state, csca, now, purpose="cert.mls"),
            issuer=csca_cert.subject,
            issuer_key_id=csca_cert.key_identifier,
            subject=build_name(p.country, p.organization, f"Master List Signer Vietnam {label[-4:]}"),
            public_key=public,
            not_before=now,
            not_after=min(ku_end + p.mls_validity_extra_days * DAY, csca_cert.not_valid_after),
            private_key_usage=(now, ku_end),
            alt_name_uri=p.alt_name_uri,
            crl_uri=p.crl_uri,
        )
        return self._activate(state, "mls", label, cert, csca.generation, now)

    def _activate(self, state: dict[str, Any], role: str, label: str, cert: Any, generation: int,
                  now: datetime) -> CertRecord:
        """Record ``cert`` as the current ``role`` certificate; the previous current one is retired."""
        for rec in self._records(state, role):
            if rec.status == "current":
                self._put(state, replace(rec, status="retired"))
        rec = CertRecord(role, cert.serial_number, label, self._write_cert(label, cert), generation, "current",
                         activated=_iso(now))
        self._put(state, rec)
        return rec

    def _issue_ds(self, state: dict[str, Any], now: datetime, reason: str) -> CertRecord:
        p = IssuerPolicy.from_json(state["policy"])
        csca = self._csca(state)
        csca_cert = self.certificate(csca)
        signer = self._csca_signer(state, csca, now, purpose="cert.ds")
        label = self._next_label(state, "ds")
        public = self.keystore.generate_key_pair(label, KeySpec.parse(p.ds_key), purpose="ds")
        ku_end = now + p.ds_key_usage_days * DAY
        not_after = min(ku_end + p.longest_document_validity_days * DAY, csca_cert.not_valid_after)
        cert = build_certificate(
            role="ds",
            signer=signer,
            issuer=csca_cert.subject,
            issuer_key_id=csca_cert.key_identifier,
            subject=build_name(p.country, p.organization, f"Document Signer Vietnam {label[-4:]}"),
            public_key=public,
            not_before=now,
            not_after=not_after,
            private_key_usage=(now, ku_end),
            document_types=p.document_types,
            alt_name_uri=p.alt_name_uri,
            crl_uri=p.crl_uri,
        )
        rec = self._activate(state, "ds", label, cert, csca.generation, now)
        self.audit.append("ds.activated", label, now=now, serial=str(cert.serial_number), reason=reason)
        return rec

    # -- lifecycle -------------------------------------------------------------------------------
    def rotate_ds(self, now: datetime | None = None, reason: str = "manual") -> x509.Certificate:
        """A new Document Signer becomes current; the old one stops signing but stays valid for verifying."""
        now = self._now(now)
        with self._locked() as state:
            rec = self._issue_ds(state, now, reason)
            self._save(state)
        return self.certificate(rec)

    def rollover_csca(self, now: datetime | None = None) -> dict[str, x509.Certificate]:
        """New CSCA generation + link certificates both ways + a new ML signer and DS under the new CSCA.

        9303-12 §5.5.1: ``new_with_old`` (new CSCA's key signed by the old key) lets a verifier that trusts
        the old CSCA accept documents signed under the new one; ``old_with_new`` (old key signed by the new
        one) lets a verifier that trusts only the new CSCA accept documents issued before the rollover.
        The old CSCA key keeps signing CRLs for the certificates it issued until they expire, nothing else.
        """
        now = self._now(now)
        with self._locked() as state:
            p = IssuerPolicy.from_json(state["policy"])
            old = self._csca(state)
            old_cert = self.certificate(old)
            old_signer = self._signer(old.label, p.csca_key, p.csca_hash, purpose="cert.link")
            gen = max(r.generation or 0 for r in self._records(state, "csca")) + 1
            new, new_public = self._create_csca(state, gen, now)
            new_cert = self.certificate(new)
            new_signer = self._signer(new.label, p.csca_key, p.csca_hash, purpose="cert.link")
            old_public = self.keystore.public_key(old.label)
            link_end = min(old_cert.not_valid_after, new_cert.not_valid_after)
            npk = new_cert.private_key_usage_period_value
            opk = old_cert.private_key_usage_period_value
            new_with_old = build_certificate(
                role="link",
                signer=old_signer,
                issuer=old_cert.subject,
                issuer_key_id=old_cert.key_identifier,
                subject=new_cert.subject,
                public_key=new_public,
                not_before=now,
                not_after=link_end,
                private_key_usage=(npk["not_before"].native, npk["not_after"].native),
                alt_name_uri=p.alt_name_uri,
                crl_uri=p.crl_uri,
            )
            old_with_new = build_certificate(
                role="link",
                signer=new_signer,
                issuer=new_cert.subject,
                issuer_key_id=new_cert.key_identifier,
                subject=old_cert.subject,
                public_key=old_public,
                not_before=now,
                not_after=link_end,
                private_key_usage=(opk["not_before"].native, opk["not_after"].native),
                alt_name_uri=p.alt_name_uri,
                crl_uri=p.crl_uri,
            )
            name_nwo = f"link-{old.generation:02d}-signs-{gen:02d}"
            name_own = f"link-{gen:02d}-signs-{old.generation:02d}"
            self._put(
                state,
                CertRecord(
                    "link",
                    new_with_old.serial_number,
                    None,
                    self._write_cert(name_nwo, new_with_old),
                    old.generation,
                ),
            )
            self._put(
                state,
                CertRecord("link", old_with_new.serial_number, None, self._write_cert(name_own, old_with_new), gen),
            )
            self._put(state, replace(old, status="previous"))
            self._issue_mls(state, now)
            self._issue_ds(state, now, reason="csca-rollover")
            self._save(state)
            self.audit.append(
                "csca.rollover", new.label, now=now, old=old.label, new_serial=str(new_cert.serial_number)
            )
        self.issue_crl(now)
        return {"csca": new_cert, "new_with_old": new_with_old, "old_with_new": old_with_new}

    def revoke(self, serial: int, reason: str = "unspecified", now: datetime | None = None) -> list[Any]:
        """Revoke a DS, ML-signer, link or service certificate and publish fresh CRLs at once.

        Decision: revoking the current DS rotates to a new one in the same step so issuance goes on;
        a CSCA cannot revoke itself (roll over instead and inform ICAO/partners).
        """
        now = self._now(now)
        if reason not in CRL_REASONS:
            raise PKIError(
                f"unknown revocation reason {reason!r}; one of {', '.join(CRL_REASONS)}",
                code="CRL_REASON_INVALID",
            )
        with self._locked() as state:
            matches = [r for r in self._records(state) if r.serial == serial]
            if not matches:
                raise WorkspaceError(f"no certificate with serial {serial} in this PKI", code="SERIAL_UNKNOWN")
            rec = matches[0]
            if rec.role in ("csca", "service_ca"):
                raise WorkspaceError("a CA cannot revoke its own certificate; run rollover-csca", code="REVOKE_REFUSED")
            if rec.status == "revoked":
                raise WorkspaceError(f"serial {serial} is already revoked", code="ALREADY_REVOKED")
            was_current = rec.status == "current"
            self._put(state, replace(rec, status="revoked", revoked_at=_iso(now), reason=reason))
            self.audit.append("cert.revoke", rec.label, now=now, serial=str(serial), role=rec.role, reason=reason)
            if was_current and rec.role == "ds":
                self._issue_ds(state, now, reason="revocation")
            elif was_current and rec.role == "mls":
                self._issue_mls(state, now)
            self._save(state)
        return self.issue_crl(now)

    def issue_crl(self, now: datetime | None = None) -> list[asn1crl.CertificateList]:
        """Issue the next CRL of every CSCA generation whose certificate has not expired (9303-12 §7.1.4).

        nextUpdate = now + ``crl_next_update_days``; the CRL number increases per generation.
        """
        now = self._now(now)
        out = []
        with self._locked() as state:
            p = IssuerPolicy.from_json(state["policy"])
            records = self._records(state)
            for csca in self._records(state, "csca"):
                csca_cert = self.certificate(csca)
                if csca_cert.not_valid_after < now:
                    continue
                revoked = [
                    RevokedEntry(r.serial, _parse(r.revoked_at), r.reason or "unspecified")
                    for r in records
                    if r.status == "revoked" and r.issuer_generation == csca.generation and r.role != "service"
                ]
                number = int(state["crl_numbers"].get(str(csca.generation), 0)) + 1
                signer = self._signer(csca.label, p.csca_key, p.csca_hash, purpose="crl", crl_number=number)
                crl = build_crl(
                    signer=signer,
                    issuer=csca_cert.subject,
                    issuer_key_id=csca_cert.key_identifier,
                    this_update=now,
                    next_update=now + p.crl_next_update_days * DAY,
                    crl_number=number,
                    revoked=revoked,
                )
                rel = f"crls/csca-{csca.generation:02d}-{number:06d}.crl"
                (self.home / "crls").mkdir(parents=True, exist_ok=True)
                _atomic_write(self.home / rel, crl.dump())
                state["crl_numbers"][str(csca.generation)] = number
                state["crls"].append(
                    {
                        "generation": csca.generation,
                        "number": number,
                        "file": rel,
                        "this_update": _iso(now),
                        "next_update": _iso(now + p.crl_next_update_days * DAY),
                    }
                )
                out.append(crl)
            self._save(state)
        return out

    def latest_crls(self) -> list[asn1crl.CertificateList]:
        state = self._load()
        latest: dict[int, dict[str, Any]] = {}
        for row in state["crls"]:
            latest[row["generation"]] = row
        return [asn1crl.CertificateList.load((self.home / r["file"]).read_bytes()) for r in latest.values()]

    def crl_due(self, now: datetime | None = None) -> bool:
        """True when a CRL must be issued: a live CSCA generation has no CRL, or its newest CRL's nextUpdate
        is less than 2 days after ``now`` (so `cancuoc pki crl --if-due` can run daily from cron)."""
        now = self._now(now)
        state = self._load()
        newest: dict[int, datetime] = {}
        for row in state["crls"]:
            newest[row["generation"]] = _parse(row["next_update"])
        for csca in self._records(state, "csca"):
            if self.certificate(csca).not_valid_after < now:
                continue
            next_update = newest.get(csca.generation or 0)
            if next_update is None or next_update - now < 2 * DAY:
                return True
        return False

    # -- master list -----------------------------------------------------------------------------
    def master_list(self, now: datetime | None = None, extra_cscas: Iterable[x509.Certificate] = ()) -> bytes:
        """A CSCA master list (9303-12 §9): CMS SignedData, eContentType id-icao-cscaMasterList, signed by
        the current ML signer, holding every unexpired CSCA certificate and link certificate of ours plus
        ``extra_cscas`` (foreign CSCAs this state vouches for). Returns DER ContentInfo; also saved."""
        now = self._now(now)
        with self._locked() as state:
            p = IssuerPolicy.from_json(state["policy"])
            certs: list[x509.Certificate] = []
            for rec in self._records(state):
                if rec.role in ("csca", "link"):
                    cert = self.certificate(rec)
                    if cert.not_valid_after >= now:
                        certs.append(cert)
            certs.extend(extra_cscas)
            seen: set[str] = set()
            unique = []
            for c in certs:
                fp = certificate_fingerprint(c)
                if fp not in seen:
                    seen.add(fp)
                    unique.append(c)
            ml = CscaMasterList({"version": 0, "cert_list": unique})
            mls = next((r for r in self._records(state, "mls") if r.status == "current"), None)
            if mls is None:
                raise SigningRefused("no current ML signer", code="MLS_MISSING")
            mls_cert = self.certificate(mls)
            csca_cert = self.certificate(self._csca(state, mls.issuer_generation))
            signer = self._signer(mls.label, p.mls_key, p.mls_hash, purpose="masterlist")
            ci = build_signed_data(
                ID_ICAO_CSCA_MASTER_LIST,
                ml.dump(),
                signer,
                mls_cert,
                signing_time=now,
                certificates=[mls_cert, csca_cert],
            )
            der = ci.dump()
            (self.home / "masterlists").mkdir(parents=True, exist_ok=True)
            _atomic_write(self.home / "masterlists" / f"VN-{now:%Y%m%d%H%M%S}.ml", der)
            mls = replace(mls, signatures=mls.signatures + 1)
            self._put(state, mls)
            self._save(state)
        return der

    # -- signing SODs ----------------------------------------------------------------------------
    def current_ds(self) -> tuple[CertRecord, x509.Certificate]:
        state = self._load()
        rec = next((r for r in self._records(state, "ds") if r.status == "current"), None)
        if rec is None:
            raise SigningRefused("no current Document Signer: run `cancuoc pki rotate-ds`", code="DS_MISSING")
        return rec, self.certificate(rec)

    def _rotation_due(self, rec: CertRecord, cert: x509.Certificate, now: datetime) -> str | None:
        p = self.policy
        if rec.activated and now - _parse(rec.activated) >= p.rotation.max_signing_age_days * DAY:
            return "age"
        if p.rotation.max_signatures is not None and self.signature_count(rec) >= p.rotation.max_signatures:
            return "count"
        pkup = cert.private_key_usage_period_value
        if pkup is not None and now >= pkup["not_after"].native:
            return "key-usage-period"
        return None

    def sign_sod(
        self,
        data_group_hashes: Mapping[int, bytes],
        doc_type: str = "ID",
        *,
        hash_algorithm: str = "sha256",
        lds_version: str | None = None,
        unicode_version: str | None = None,
        now: datetime | None = None,
    ) -> bytes:
        """EF.SOD bytes (``77`` + ContentInfo, 9303-10 §4.6.2) over ``data_group_hashes`` with the current DS.

        Chooses the current DS (rotating first when the `RotationPolicy` says so and allows it), refuses
        a DS that is revoked, rotated out, outside its private key usage period, or whose document type
        list lacks ``doc_type``; counts the signature and writes it to the audit trail.
        """
        from icao9303.errors import ICAOError
        from icao9303.lds.sod import SOD_TAG, build_lds_security_object
        from icao9303.tlv import encode_tlv
        from pki.algorithms import HASH_SIZES

        h = hash_name(hash_algorithm)
        hashes = dict(data_group_hashes)
        for number, value in hashes.items():
            if not isinstance(number, int) or not 1 <= number <= 16:
                raise PKIError(f"data group number {number!r} is not 1..16", code="SOD_INPUT_INVALID")
            if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZES[h]:
                raise PKIError(f"DG{number} hash is not a {h} digest ({HASH_SIZES[h]} bytes)", code="SOD_INPUT_INVALID")
        try:
            lso = build_lds_security_object(h, hashes, lds_version=lds_version, unicode_version=unicode_version)
        except ICAOError as exc:
            raise PKIError(f"cannot build the LDS security object: {exc}", code="SOD_INPUT_INVALID") from exc
        ci = self._sign_with_ds(ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT, lso.dump(), doc_type, now, "sod")
        # Not re-parsed through SOD.from_content_info (7 ms of asn1crypto per SOD): every part was just
        # built from checked values; the tests parse what we produce with SOD.from_bytes.
        return encode_tlv(SOD_TAG, ci.dump())

    def sign_card_security(
        self, security_infos_der: bytes, doc_type: str = "ID", *, now: datetime | None = None
    ) -> bytes:
        """EF.CardSecurity bytes: ContentInfo / SignedData over SecurityInfos (eContentType id-SecurityObject,
        BSI TR-03110-3 A.1.2.3; 9303-11 §9.2.1 for PACE-CAM) with the current DS, under the same rules,
        counting and audit as :meth:`sign_sod`. Decision: the DS signs EF.CardSecurity (9303-11 allows
        "the Document Signer"); no separate signer role."""
        from icao9303.lds.oids import ID_SECURITY_OBJECT

        ci = self._sign_with_ds(ID_SECURITY_OBJECT, security_infos_der, doc_type, now, "card-security")
        return ci.dump()

    def _sign_with_ds(
        self, econtent_type: str, econtent: bytes, doc_type: str, now: datetime | None, purpose: str
    ) -> Any:
        now = self._now(now)
        with self._locked() as state:
            rec, cert = self.current_ds()
            due = self._rotation_due(rec, cert, now)
            if due is not None:
                if not self.policy.rotation.auto_rotate:
                    raise SigningRefused(
                        f"DS {rec.label} must be rotated ({due}): run `cancuoc pki rotate-ds`",
                        code="DS_ROTATION_DUE",
                        at=now,
                    )
                self._issue_ds(state, now, reason=f"auto-{due}")
                self._save(state)
                rec, cert = self.current_ds()
            self._check_signable(rec, cert, now, doc_type)
            signer = self._signer(
                rec.label,
                self.policy.ds_key,
                self.policy.ds_hash,
                purpose=purpose,
                serial=str(rec.serial),
                count=self.signature_count(rec) + 1,
                doc_type=doc_type,
            )
            ci = build_signed_data(econtent_type, econtent, signer, cert, signing_time=now)
            self._bump_count(rec)
        return ci

    # Decision: signature counters live in one small file per key (``counters/<label>``, 8 bytes, rewritten
    # in place under the workspace lock, not fsynced) instead of rewriting state.json for every SOD. The
    # audit trail, fsynced per signature, is the durable record (each "key.sign" entry carries the count);
    # after a crash a counter can lag by the signatures of the last moments, never run ahead.
    def _counter_path(self, rec: CertRecord) -> Path:
        return self.home / "counters" / str(rec.label)

    def signature_count(self, rec: CertRecord) -> int:
        """How many signatures the key of ``rec`` has made (SODs, EF.CardSecurity)."""
        try:
            return max(rec.signatures, int.from_bytes(self._counter_path(rec).read_bytes()[:8], "big"))
        except FileNotFoundError:
            return rec.signatures

    def _bump_count(self, rec: CertRecord) -> int:
        path = self._counter_path(rec)
        value = self.signature_count(rec) + 1
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, value.to_bytes(8, "big"), 0)
        finally:
            os.close(fd)
        return value

    def _check_signable(self, rec: CertRecord, cert: x509.Certificate, now: datetime, doc_type: str) -> None:
        from pki.asn1 import document_type_permitted, document_types

        if rec.status != "current":
            raise SigningRefused(f"DS {rec.label} is {rec.status}", code="DS_NOT_CURRENT", at=now)
        pkup = cert.private_key_usage_period_value
        if not (cert.not_valid_before <= now <= cert.not_valid_after):
            raise SigningRefused(f"DS {rec.label} certificate is not valid at {now}", code="DS_EXPIRED", at=now)
        if pkup is not None and not (pkup["not_before"].native <= now <= pkup["not_after"].native):
            raise SigningRefused(
                f"DS {rec.label} is outside its private key usage period", code="DS_KEY_EXPIRED", at=now
            )
        types = document_types(cert) or []
        if not document_type_permitted(types, doc_type):
            raise SigningRefused(
                f"DS {rec.label} may not sign document type {doc_type!r} (list: {types})",
                code="DS_DOC_TYPE",
                at=now,
            )

    # -- service keys (not ICAO) -----------------------------------------------------------------
    def issue_service_certificate(
        self, name: str, key: str = "ec:P-256", now: datetime | None = None, validity_days: int = 2 * 365
    ) -> x509.Certificate:
        """A certificate for a named service key (e.g. the station API's receipt key) — never a DS.

        Decision: service keys are certified by a separate self-signed *Service CA* (created on first use,
        same key store, same country), not by the CSCA: a CSCA certifies only DS, ML-signer and link
        certificates (9303-12 §7.1), and a verifier that trusts our CSCA must never accept a receipt key
        as a Document Signer. Reissuing for an existing name replaces the certificate and generates a new key.
        """
        now = self._now(now)
        with self._locked() as state:
            p = IssuerPolicy.from_json(state["policy"])
            ca = next((r for r in self._records(state, "service_ca")), None)
            if ca is None:
                label = f"{state.get('key_prefix', '')}service-ca"
                public = self.keystore.generate_key_pair(label, KeySpec("ec", curve="P-384"), purpose="service_ca")
                ca_name = build_name(p.country, p.organization, "Cancuoc Service CA")
                ca_cert = build_certificate(
                    role="service_ca",
                    signer=Signer(self.keystore, label, "sha384", "ecdsa", (("purpose", "self"),)),
                    issuer=ca_name,
                    issuer_key_id=key_identifier(public),
                    subject=ca_name,
                    public_key=public,
                    not_before=now,
                    not_after=now + 20 * 365 * DAY,
                    private_key_usage=(now, now + 10 * 365 * DAY),
                )
                ca = CertRecord(
                    "service_ca",
                    ca_cert.serial_number,
                    label,
                    self._write_cert(label, ca_cert),
                    0,
                    "current",
                    activated=_iso(now),
                )
                self._put(state, ca)
            ca_cert = self.certificate(ca)
            old = [r for r in self._records(state, "service") if r.name == name and r.status == "current"]
            label = self._next_label(state, f"svc-{_safe(name)}")
            public = self.keystore.generate_key_pair(label, KeySpec.parse(key), purpose="service", service=name)
            cert = build_certificate(
                role="service",
                signer=Signer(self.keystore, ca.label, "sha384", "ecdsa", (("purpose", "cert.service"),)),
                issuer=ca_cert.subject,
                issuer_key_id=ca_cert.key_identifier,
                subject=build_name(p.country, p.organization, f"Cancuoc service {name}"),
                public_key=public,
                not_before=now,
                not_after=min(now + validity_days * DAY, ca_cert.not_valid_after),
                private_key_usage=None,
            )
            for r in old:
                self._put(state, replace(r, status="retired"))
            rec = CertRecord(
                "service",
                cert.serial_number,
                label,
                self._write_cert(label, cert),
                0,
                "current",
                activated=_iso(now),
                name=name,
            )
            self._put(state, rec)
            self._save(state)
        return cert

    def service_key(self, name: str) -> tuple[Signer, x509.Certificate, x509.Certificate]:
        """(signer, certificate, service CA certificate) of the current key named ``name``."""
        state = self._load()
        rec = next((r for r in self._records(state, "service") if r.name == name and r.status == "current"), None)
        if rec is None:
            raise WorkspaceError(
                f"no service key named {name!r}: run `cancuoc pki service-key {name}`",
                code="SERVICE_KEY_MISSING",
            )
        ca = next(r for r in self._records(state, "service_ca"))
        spec = self.keystore.key_spec(rec.label)
        scheme: SignatureScheme = "ecdsa" if spec.kind == "ec" else "pss"
        signer = Signer(self.keystore, rec.label, "sha256", scheme, (("purpose", "service"), ("service", name)))
        return signer, self.certificate(rec), self.certificate(ca)

    # -- reporting / export ----------------------------------------------------------------------
    def records(self, role: str | None = None) -> list[CertRecord]:
        return self._records(self._load(), role)

    def certificates(self, role: str | None = None) -> list[x509.Certificate]:
        return [self.certificate(r) for r in self.records(role)]

    def status(self, now: datetime | None = None) -> dict[str, Any]:
        now = self._now(now)
        state = self._load()
        rows = []
        for rec in self._records(state):
            cert = self.certificate(rec)
            rows.append(
                {
                    "role": rec.role,
                    "label": rec.label,
                    "serial": str(rec.serial),
                    "status": rec.status,
                    "subject": cert.subject.human_friendly,
                    "issuer_generation": rec.issuer_generation,
                    "not_before": cert.not_valid_before.isoformat(),
                    "not_after": cert.not_valid_after.isoformat(),
                    "signatures": self.signature_count(rec),
                    "reason": rec.reason,
                }
            )
        latest: dict[int, dict[str, Any]] = {}
        for row in state["crls"]:
            latest[row["generation"]] = row
        due = None
        try:
            rec, cert = self.current_ds()
            due = self._rotation_due(rec, cert, now)
        except SigningRefused:
            pass
        return {
            "home": str(self.home),
            "country": state["policy"]["country"],
            "certificates": rows,
            "crls": list(latest.values()),
            "ds_rotation_due": due,
            "now": now.isoformat(),
        }

    def export(self, out_dir: str | os.PathLike[str], now: datetime | None = None) -> list[Path]:
        """Write every certificate (DER + PEM), the newest CRLs, a fresh master list and a PKD-style LDIF."""
        from asn1crypto import pem

        from pki.ldif import pkd_entries_for, write_ldif

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for rec in self.records():
            cert = self.certificate(rec)
            stem = Path(rec.file).stem.removeprefix(self._load().get("key_prefix", ""))
            folder = out / "service" if rec.role in ("service", "service_ca") else out  # not ICAO objects
            folder.mkdir(exist_ok=True)
            for suffix, data in ((".der", cert.dump()), (".pem", pem.armor("CERTIFICATE", cert.dump()))):
                (folder / f"{stem}{suffix}").write_bytes(data)
                written.append(folder / f"{stem}{suffix}")
        crls = self.latest_crls()
        for crl in crls:
            num = crl.crl_number_value.native
            gen_name = crl.issuer.native.get("common_name", "csca").replace(" ", "-")
            for suffix, data in ((".crl", crl.dump()), (".crl.pem", pem.armor("X509 CRL", crl.dump()))):
                path = out / f"{gen_name}-{num:06d}{suffix}"
                path.write_bytes(data)
                written.append(path)
        ml = self.master_list(now)
        (out / "VN-masterlist.ml").write_bytes(ml)
        written.append(out / "VN-masterlist.ml")
        ds_certs = [self.certificate(r) for r in self.records("ds")]
        ldif = write_ldif(pkd_entries_for(ds_certs=ds_certs, crls=crls, master_lists=[ml], country=self.policy.country))
        (out / "VN-pkd.ldif").write_text(ldif)
        written.append(out / "VN-pkd.ldif")
        return written

    def trust_store_objects(self) -> dict[str, list]:
        """Own CSCAs, links, DS certificates and newest CRLs, for seeding a verifier's `TrustStore`."""
        return {
            "cscas": self.certificates("csca"),
            "links": self.certificates("link"),
            "ds": self.certificates("ds"),
            "crls": self.latest_crls(),
        }

    def seed_trust_store(self, store: Any) -> Any:
        """Import this PKI's CSCAs, link certificates and newest CRLs into a verifier's `TrustStore`, in one
        transaction, each import verified by the store (`cancuoc pki trust seed`, the issuance read-back,
        the station API). Returns the store."""
        objs = self.trust_store_objects()
        with store.transaction():
            for cert in objs["cscas"]:
                store.add_csca(cert, source="own")
            for cert in objs["links"]:
                store.add_link(cert, source="own")
            for crl in objs["crls"]:
                store.add_crl(crl, source="own")
        return store


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    if not cleaned:
        raise WorkspaceError("empty service key name", code="SERVICE_KEY_NAME")
    return cleaned


def sign_sod(
    data_group_hashes: Mapping[int, bytes],
    doc_type: str = "ID",
    *,
    workspace: PKI | None = None,
    hash_algorithm: str = "sha256",
    lds_version: str | None = None,
    unicode_version: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """Module-level entry point: sign EF.SOD with ``workspace`` (default: `open_workspace()`)."""
    pki = workspace or open_workspace()
    return pki.sign_sod(
        data_group_hashes,
        doc_type,
        hash_algorithm=hash_algorithm,
        lds_version=lds_version,
        unicode_version=unicode_version,
        now=now,
    )


DEV_PASSPHRASE = "cancuoc-development-only"  # noqa: S105 - refused when CANCUOC_ENVIRONMENT=production


def keystore_passphrase(environment: str | None = None) -> str:
    """The file key-store passphrase: env ``CANCUOC_KEYSTORE_PASSPHRASE``.

    Decision: outside production a missing passphrase falls back to the published development default
    ``cancuoc-development-only`` (so `cancuoc demo` works on a laptop); with CANCUOC_ENVIRONMENT=production
    a missing passphrase or the development default is refused (KEYSTORE_PASSPHRASE_REQUIRED).
    """
    from cancuoc.settings import get_settings
    from pki.errors import KeyStoreError

    env = (environment or get_settings().environment).lower()
    value = os.environ.get("CANCUOC_KEYSTORE_PASSPHRASE")
    if env == "production" and (not value or value == DEV_PASSPHRASE):
        raise KeyStoreError(
            "set CANCUOC_KEYSTORE_PASSPHRASE: the development default is refused in production",
            code="KEYSTORE_PASSPHRASE_REQUIRED",
        )
    return value or DEV_PASSPHRASE


def open_keystore(
    keystore_dir: str | os.PathLike[str] | None = None,
    *,
    pkcs11_module: str | None = None,
    token_label: str | None = None,
    pin_env: str = "CANCUOC_PKCS11_PIN",
) -> KeyStore:
    """A `PKCS11KeyStore` when a module and token are given (PIN from env ``pin_env``), else a `FileKeyStore`.

    Environment fallbacks: CANCUOC_PKCS11_MODULE, CANCUOC_PKCS11_TOKEN.
    """
    from cancuoc.settings import get_settings
    from pki.errors import KeyStoreError
    from pki.keystore import FileKeyStore

    module = pkcs11_module or os.environ.get("CANCUOC_PKCS11_MODULE")
    token = token_label or os.environ.get("CANCUOC_PKCS11_TOKEN")
    if module or token:
        from pki.pkcs11store import PKCS11KeyStore

        pin = os.environ.get(pin_env)
        if not (module and token and pin):
            raise KeyStoreError(
                f"PKCS#11 needs a module, a token label and the PIN in ${pin_env}", code="KEYSTORE_NO_TOKEN"
            )
        return PKCS11KeyStore(module, token, pin)
    return FileKeyStore(keystore_dir or get_settings().keystore_dir, keystore_passphrase())


def open_workspace(home: str | os.PathLike[str] | None = None, keystore: KeyStore | None = None) -> PKI:
    """The PKI workspace at ``home`` (default: settings ``pki_dir``) and ``keystore`` (`open_keystore`)."""
    from cancuoc.settings import get_settings

    return PKI(home or get_settings().pki_dir, keystore or open_keystore())
