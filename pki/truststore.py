"""The verifier's trust store: CSCAs (own and foreign), link and DS certificates, CRLs, master lists, LDIF.

Every import is verified before anything of it is trusted, and is all-or-nothing: objects are staged in
memory, checked, then written as content-addressed files and committed by atomically replacing
``manifest.json`` (the commit point). A failed import leaves the store exactly as it was.

Trust rules (decisions):

- A CSCA becomes a trust anchor only by an explicit operator import (`add_csca`), or by being listed in a
  master list whose signature verifies and whose ML signer chains to a CSCA already trusted (or to the
  ``anchor`` the caller passes for bootstrapping).
- A link certificate is stored only when its signature verifies with a trusted CSCA key; it extends trust
  to the key it certifies (9303-12 §5.5.1) and is itself checked for validity and revocation at path time.
- DS certificates, CRLs and deviation lists are stored only when they verify with a trusted CSCA key.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import crl as asn1crl
from asn1crypto import pem, x509

from pki.asn1 import (
    ID_ICAO_CSCA_MASTER_LIST,
    ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY,
    ID_ICAO_DEVIATION_LIST,
    CscaMasterList,
)
from pki.cms import parse_content_info, verify_signed_data
from pki.errors import CMSError, PKIError, TrustStoreError
from pki.keystore import _atomic_write
from pki.profiles import certificate_role, utc

KINDS = ("csca", "link", "ds", "crl", "ml", "dl")
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def load_certificate(data: bytes, what: str = "certificate") -> x509.Certificate:
    """A fully parsed certificate from DER or PEM; `TrustStoreError(CERT_MALFORMED)` naming ``what``."""
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        cert = x509.Certificate.load(bytes(data), strict=True)
        cert.native  # noqa: B018 - parse every field now
        return cert
    except _ASN1_ERRORS as exc:
        raise TrustStoreError(
            f"{what}: malformed certificate ({exc.__class__.__name__})", code="CERT_MALFORMED", object=what
        ) from exc


def load_crl(data: bytes, what: str = "CRL") -> asn1crl.CertificateList:
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        crl = asn1crl.CertificateList.load(bytes(data), strict=True)
        crl.native  # noqa: B018
        return crl
    except _ASN1_ERRORS as exc:
        raise TrustStoreError(
            f"{what}: malformed CRL ({exc.__class__.__name__})", code="CRL_MALFORMED", object=what
        ) from exc


@dataclass
class StoredObject:
    kind: str
    fingerprint: str
    der: bytes
    source: str
    dn: str | None = None
    parsed: Any = None
    subject: str = ""


@dataclass
class ImportReport:
    """What an import added, removed and (when skipping was allowed) refused, with codes."""

    added: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "skipped": self.skipped}


class TrustStore:
    """``TrustStore(directory)`` persisted, or ``TrustStore()`` in memory. See the module docstring."""

    MANIFEST = "manifest.json"

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._objects: dict[str, StoredObject] = {}
        self._depth = 0
        self.generation = 0
        self._path_cache: dict[tuple, tuple[int, list[x509.Certificate]]] = {}
        self._crl_ok: dict[tuple[str, str], bool] = {}
        self._known_on_disk: set[str] = set()
        if self.directory is not None:
            self._load()
        self._reindex()

    def __repr__(self) -> str:
        counts = {k: len(self._by_kind.get(k, [])) for k in KINDS}
        return f"TrustStore({str(self.directory) if self.directory else 'memory'}, {counts})"

    # -- persistence ---------------------------------------------------------------------------------
    def _load(self) -> None:
        assert self.directory is not None
        path = self.directory / self.MANIFEST
        if not path.exists():
            return
        try:
            manifest = json.loads(path.read_text())
            rows = manifest["objects"]
        except (ValueError, KeyError) as exc:
            raise TrustStoreError(f"trust store manifest {path} is damaged", code="TRUSTSTORE_DAMAGED") from exc
        for row in rows:
            der = (self.directory / "objects" / f"{row['fingerprint']}.der").read_bytes()
            if fingerprint(der) != row["fingerprint"]:
                raise TrustStoreError(f"trust store object {row['fingerprint']} was altered", code="TRUSTSTORE_DAMAGED")
            obj = StoredObject(row["kind"], row["fingerprint"], der, row.get("source", ""), row.get("dn"))
            self._parse(obj)
            obj.subject = obj.subject or row.get("subject", "")
            self._objects[obj.fingerprint] = obj
        self._known_on_disk = set(self._objects)

    def _commit(self) -> None:
        self.generation += 1
        self._path_cache.clear()
        self._reindex()
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer at a time across processes
            try:
                self._merge_from_disk()
                self._write()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._reindex()

    def _merge_from_disk(self) -> None:
        """Keep what other processes committed since this store was loaded (objects we did not know and
        did not remove); they verified it before committing."""
        assert self.directory is not None
        path = self.directory / self.MANIFEST
        if not path.exists():
            return
        try:
            rows = json.loads(path.read_text())["objects"]
        except (ValueError, KeyError) as exc:
            raise TrustStoreError(f"trust store manifest {path} is damaged", code="TRUSTSTORE_DAMAGED") from exc
        for row in rows:
            fp = row["fingerprint"]
            if fp in self._objects or fp in self._known_on_disk:
                continue
            der = (self.directory / "objects" / f"{fp}.der").read_bytes()
            if fingerprint(der) != fp:
                raise TrustStoreError(f"trust store object {fp} was altered", code="TRUSTSTORE_DAMAGED")
            obj = StoredObject(row["kind"], fp, der, row.get("source", ""), row.get("dn"))
            self._parse(obj)
            obj.subject = obj.subject or row.get("subject", "")
            self._objects[fp] = obj

    def _write(self) -> None:
        assert self.directory is not None
        objects = self.directory / "objects"
        objects.mkdir(parents=True, exist_ok=True)
        for obj in self._objects.values():
            target = objects / f"{obj.fingerprint}.der"
            if not target.exists():
                _atomic_write(target, obj.der)
        manifest = {
            "version": 1,
            "objects": [
                {
                    "kind": o.kind,
                    "fingerprint": o.fingerprint,
                    "source": o.source,
                    "dn": o.dn,
                    "subject": o.subject,
                }
                for o in sorted(self._objects.values(), key=lambda o: (KINDS.index(o.kind), o.fingerprint))
            ],
        }
        _atomic_write(self.directory / self.MANIFEST, json.dumps(manifest, indent=1).encode())  # commit point
        live = {f"{fp}.der" for fp in self._objects}
        for stale in objects.glob("*.der"):
            if stale.name not in live:
                stale.unlink(missing_ok=True)
        self._known_on_disk = set(self._objects)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group imports: all of them land, or (on any exception) none do."""
        snapshot = dict(self._objects)
        self._depth += 1
        try:
            yield
        except BaseException:
            self._objects = snapshot
            self._depth -= 1
            self._reindex()
            raise
        self._depth -= 1
        if self._depth == 0:
            self._commit()
        else:
            self._reindex()

    def _parse(self, obj: StoredObject) -> None:
        if obj.kind in ("csca", "link", "ds"):
            obj.parsed = load_certificate(obj.der, obj.kind)
            obj.subject = obj.parsed.subject.human_friendly
        elif obj.kind == "crl":
            obj.parsed = load_crl(obj.der)
            obj.subject = obj.parsed.issuer.human_friendly
        else:
            obj.parsed = parse_content_info(obj.der, obj.kind)

    def _reindex(self) -> None:
        self._by_kind: dict[str, list[StoredObject]] = {k: [] for k in KINDS}
        for obj in self._objects.values():
            self._by_kind[obj.kind].append(obj)
        self._anchor_fps = {o.fingerprint for o in self._by_kind["csca"]}

    def _stage(self, kind: str, der: bytes, source: str, dn: str | None = None, parsed: Any = None) -> StoredObject:
        fp = fingerprint(der)
        existing = self._objects.get(fp)
        if existing is not None and (existing.kind == kind or existing.kind == "csca"):
            return existing
        obj = StoredObject(kind, fp, der, source, dn, parsed)
        if parsed is None:
            self._parse(obj)
        else:
            obj.subject = (
                parsed.issuer.human_friendly
                if kind == "crl"
                else (parsed.subject.human_friendly if kind in ("csca", "link", "ds") else "")
            )
        self._objects[fp] = obj
        self._reindex()
        return obj

    # -- queries -----------------------------------------------------------------------------------
    def objects(self, kind: str) -> list[StoredObject]:
        return list(self._by_kind.get(kind, []))

    def anchors(self) -> list[x509.Certificate]:
        return [o.parsed for o in self._by_kind["csca"]]

    def links(self) -> list[x509.Certificate]:
        return [o.parsed for o in self._by_kind["link"]]

    def ca_certificates(self) -> list[x509.Certificate]:
        return self.anchors() + self.links()

    def ds_certificates(self) -> list[x509.Certificate]:
        return [o.parsed for o in self._by_kind["ds"]]

    def crls(self) -> list[asn1crl.CertificateList]:
        return [o.parsed for o in self._by_kind["crl"]]

    def is_anchor(self, cert: x509.Certificate) -> bool:
        return fingerprint(cert.dump()) in self._anchor_fps

    def summary(self) -> dict[str, Any]:
        return {
            kind: [
                {"fingerprint": o.fingerprint, "subject": o.subject, "source": o.source} for o in self._by_kind[kind]
            ]
            for kind in KINDS
        }

    def cached_path(
        self, ds_cert: x509.Certificate, variant: tuple, build: Callable[[], list[x509.Certificate]]
    ) -> list[x509.Certificate]:
        """The warm path cache: keyed by the DS certificate's SHA-256 fingerprint and the policy fields that
        change path building (``variant``), valid for one trust store generation (any committed import
        invalidates it)."""
        key = (fingerprint(ds_cert.dump()), *variant)
        hit = self._path_cache.get(key)
        if hit is not None and hit[0] == self.generation:
            return hit[1]
        path = build()
        self._path_cache[key] = (self.generation, path)
        return path

    def newest_crl(self, issuer: x509.Certificate) -> asn1crl.CertificateList | None:
        """The CRL with the highest CRL number among those ``issuer``'s key signed."""
        from pki.validation import issued_by

        best = None
        best_key: tuple[int, datetime] | None = None
        issuer_fp = fingerprint(issuer.dump())
        for obj in self._by_kind["crl"]:
            crl = obj.parsed
            if not issued_by(crl, issuer):
                continue
            ok = self._crl_ok.get((obj.fingerprint, issuer_fp))
            if ok is None:
                ok = _crl_signed_by(crl, issuer)
                self._crl_ok[(obj.fingerprint, issuer_fp)] = ok
            if not ok:
                continue
            num = crl.crl_number_value.native if crl.crl_number_value is not None else -1
            key = (num, crl["tbs_cert_list"]["this_update"].native)
            if best_key is None or key > best_key:
                best, best_key = crl, key
        return best

    # -- imports ---------------------------------------------------------------------------------------
    def add_csca(self, cert: x509.Certificate | bytes, source: str = "manual") -> ImportReport:
        """Trust a CSCA certificate explicitly (own, or a foreign one received bilaterally).

        It must be a self-signed CA certificate whose signature verifies with its own key.
        """
        cert = cert if isinstance(cert, x509.Certificate) else load_certificate(cert, "CSCA certificate")
        report = ImportReport()
        with self.transaction():
            self._add_anchor(cert, source, report)
        return report

    def _add_anchor(self, cert: x509.Certificate, source: str, report: ImportReport, dn: str | None = None) -> None:
        from pki.validation import _verify_cert_signature

        what = f"CSCA {cert.subject.human_friendly}"
        if certificate_role(cert) != "csca":
            raise TrustStoreError(f"{what} is not a self-signed CSCA certificate", code="NOT_A_CSCA", object=what)
        try:
            _verify_cert_signature(cert, cert, allow_sha1=True)
        except PKIError as exc:
            raise TrustStoreError(
                f"{what}: self-signature does not verify", code="SIGNATURE_INVALID", object=what
            ) from exc
        obj = self._stage("csca", cert.dump(), source, dn, cert)
        report.added.append({"kind": "csca", "fingerprint": obj.fingerprint, "subject": obj.subject})

    def _verify_with_ca(self, cert: x509.Certificate, what: str, exclude: str | None = None) -> x509.Certificate:
        from pki.validation import _verify_cert_signature, issued_by

        for ca in self.ca_certificates():
            if exclude is not None and fingerprint(ca.dump()) == exclude:
                continue
            if issued_by(cert, ca):
                try:
                    _verify_cert_signature(cert, ca, allow_sha1=True)
                    return ca
                except PKIError:
                    continue
        raise TrustStoreError(f"{what}: not signed by any trusted CSCA", code="ISSUER_UNTRUSTED", object=what)

    def add_link(
        self,
        cert: x509.Certificate | bytes,
        source: str = "manual",
        *,
        dn: str | None = None,
        report: ImportReport | None = None,
    ) -> ImportReport:
        """Store a link certificate that verifies with a trusted CSCA key (9303-12 §5.5.1)."""
        cert = cert if isinstance(cert, x509.Certificate) else load_certificate(cert, "link certificate")
        report = report or ImportReport()
        what = f"link certificate {cert.subject.human_friendly}"
        if certificate_role(cert) != "link":
            raise TrustStoreError(f"{what} is not a link certificate", code="NOT_A_LINK", object=what)
        with self.transaction():
            self._verify_with_ca(cert, what)
            obj = self._stage("link", cert.dump(), source, dn, cert)
            report.added.append({"kind": "link", "fingerprint": obj.fingerprint, "subject": obj.subject})
        return report

    def add_ds(
        self,
        cert: x509.Certificate | bytes,
        source: str = "manual",
        *,
        dn: str | None = None,
        report: ImportReport | None = None,
    ) -> ImportReport:
        """Store a DS certificate whose path to a trusted CSCA verifies (signatures only; time and
        revocation are checked at validation time)."""
        from pki.validation import ValidationPolicy, _build_path

        cert = cert if isinstance(cert, x509.Certificate) else load_certificate(cert, "DS certificate")
        report = report or ImportReport()
        what = f"DS certificate {cert.subject.human_friendly}"
        if certificate_role(cert) not in ("ds", "mls"):
            raise TrustStoreError(f"{what} is not a Document Signer certificate", code="NOT_A_DS", object=what)
        with self.transaction():
            try:
                _build_path(cert, self, ValidationPolicy(allow_sha1=True))
            except PKIError as exc:
                raise TrustStoreError(f"{what}: {exc.message}", code=exc.code, object=what) from exc
            obj = self._stage("ds", cert.dump(), source, dn, cert)
            report.added.append({"kind": "ds", "fingerprint": obj.fingerprint, "subject": obj.subject})
        return report

    def add_crl(
        self,
        crl: asn1crl.CertificateList | bytes,
        source: str = "manual",
        *,
        dn: str | None = None,
        report: ImportReport | None = None,
    ) -> ImportReport:
        """Store a CRL whose signature verifies with a trusted CSCA key."""
        crl = crl if isinstance(crl, asn1crl.CertificateList) else load_crl(crl)
        report = report or ImportReport()
        what = f"CRL from {crl.issuer.human_friendly}"
        from pki.validation import issued_by

        with self.transaction():
            if not any(issued_by(crl, ca) and _crl_signed_by(crl, ca) for ca in self.ca_certificates()):
                raise TrustStoreError(f"{what}: not signed by any trusted CSCA", code="ISSUER_UNTRUSTED", object=what)
            obj = self._stage("crl", crl.dump(), source, dn, crl)
            report.added.append({"kind": "crl", "fingerprint": obj.fingerprint, "subject": obj.subject})
        return report

    def _verify_signer_chain(
        self,
        signer: x509.Certificate,
        intermediates: list[x509.Certificate],
        anchor: x509.Certificate | None,
        what: str,
    ) -> None:
        """The ML/DL signer certificate must chain to a trusted CSCA (or to ``anchor``).

        ``intermediates`` (the SignedData certificates and the link certificates listed in the master list)
        may bridge a CSCA rollover: an ML signer under the new CSCA chains to a verifier that still trusts
        only the old CSCA through the new-with-old link certificate.
        """
        from pki.validation import _verify_cert_signature, issued_by

        anchors = self.anchors() + ([anchor] if anchor is not None else [])
        pool = [c for c in self.links() + intermediates if certificate_role(c) in ("csca", "link")]

        def chains(cert: x509.Certificate, depth: int) -> bool:
            for ca in anchors:
                if issued_by(cert, ca):
                    try:
                        _verify_cert_signature(cert, ca, allow_sha1=True)
                        return True
                    except PKIError:
                        pass
            if depth >= 4:
                return False
            for ca in pool:
                if ca.dump() != cert.dump() and issued_by(cert, ca):
                    try:
                        _verify_cert_signature(cert, ca, allow_sha1=True)
                    except PKIError:
                        continue
                    if chains(ca, depth + 1):
                        return True
            return False

        if not chains(signer, 0):
            raise TrustStoreError(
                f"{what}: signer {signer.subject.human_friendly} does not chain to a trusted CSCA",
                code="ML_SIGNER_UNTRUSTED",
                object=what,
            )

    def import_master_list(
        self,
        data: bytes,
        *,
        source: str = "masterlist",
        anchor: x509.Certificate | None = None,
        strict: bool = True,
        now: datetime | None = None,
        dn: str | None = None,
        report: ImportReport | None = None,
    ) -> ImportReport:
        """Verify a CSCA master list (9303-12 §9) and trust its CSCAs; nothing is imported if it fails.

        Checks: CMS structure, eContentType id-icao-cscaMasterList, messageDigest and signature, the signer's
        EKU (2.23.136.1.1.3) and validity at signing time (else ``now``), the signer's chain to a trusted
        CSCA (or ``anchor``), then every listed certificate: self-signed CSCAs become anchors, link
        certificates must verify with a key in the list or the store. With ``strict`` (default) one bad
        listed certificate rejects the whole list; otherwise it is skipped and reported.
        """
        report = report or ImportReport()
        what = "master list" if dn is None else f"master list {dn}"
        try:
            result = verify_signed_data(
                bytes(data) if not isinstance(data, bytes) else data,
                expected_content_type=ID_ICAO_CSCA_MASTER_LIST,
                what=what,
            )
        except CMSError as exc:
            code = "ML_SIGNATURE_INVALID" if exc.code in ("CMS_SIGNATURE_INVALID", "CMS_DIGEST_MISMATCH") else exc.code
            raise TrustStoreError(f"{exc.message}", code=code, object=what) from exc
        signer = result.signer_certificate
        eku = signer.extended_key_usage_value
        if eku is None or ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY not in [e.dotted for e in eku]:
            raise TrustStoreError(f"{what}: signer lacks the ML-signer EKU", code="ML_SIGNER_PROFILE", object=what)
        when = utc(result.signing_time or now or datetime.now(UTC))
        if not (signer.not_valid_before <= when <= signer.not_valid_after):
            raise TrustStoreError(
                f"{what}: signer certificate not valid at {when.isoformat()}",
                code="ML_SIGNER_EXPIRED",
                object=what,
            )
        try:
            ml = CscaMasterList.load(result.econtent, strict=True)
            ml.native  # noqa: B018
            listed = list(ml["cert_list"])
        except _ASN1_ERRORS as exc:
            raise TrustStoreError(
                f"{what}: malformed CscaMasterList ({exc.__class__.__name__})",
                code="ML_MALFORMED",
                object=what,
            ) from exc
        with self.transaction():
            self._verify_signer_chain(signer, list(result.certificates) + listed, anchor, what)
            # self-signed CSCAs first, then link certificates that may rely on them
            ordered = sorted(listed, key=lambda c: certificate_role(c) != "csca")
            for cert in ordered:
                try:
                    role = certificate_role(cert)
                    if role == "csca":
                        self._add_anchor(cert, f"{source}", report, dn)
                    elif role == "link":
                        self.add_link(cert, source, dn=dn, report=report)
                    else:
                        raise TrustStoreError(
                            f"{what}: listed certificate {cert.subject.human_friendly} is not "
                            "a CSCA or link certificate",
                            code="ML_ENTRY_INVALID",
                            object=what,
                        )
                except TrustStoreError as exc:
                    if strict:
                        raise TrustStoreError(f"{what}: {exc.message}", code=exc.code, object=what) from exc
                    report.skipped.append(
                        {"object": exc.details.get("object", what), "code": exc.code, "message": exc.message}
                    )
            obj = self._stage("ml", bytes(data), source, dn)
            obj.subject = signer.subject.human_friendly
            report.added.append(
                {"kind": "ml", "fingerprint": obj.fingerprint, "subject": signer.subject.human_friendly}
            )
        return report

    def import_deviation_list(
        self,
        data: bytes,
        *,
        source: str = "deviationlist",
        dn: str | None = None,
        report: ImportReport | None = None,
    ) -> ImportReport:
        """Verify and store a deviation list (9303-12 §10).

        Decision: deviation lists are stored, not yet applied to validation."""
        report = report or ImportReport()
        what = "deviation list" if dn is None else f"deviation list {dn}"
        try:
            result = verify_signed_data(data, expected_content_type=ID_ICAO_DEVIATION_LIST, what=what)
        except CMSError as exc:
            raise TrustStoreError(exc.message, code=exc.code, object=what) from exc
        if certificate_role(result.signer_certificate) != "dls":
            raise TrustStoreError(
                f"{what}: signer lacks the deviation-list-signer EKU (2.23.136.1.1.8)",
                code="DL_SIGNER_PROFILE",
                object=what,
            )
        with self.transaction():
            self._verify_signer_chain(result.signer_certificate, list(result.certificates), None, what)
            obj = self._stage("dl", bytes(data), source, dn)
            report.added.append(
                {
                    "kind": "dl",
                    "fingerprint": obj.fingerprint,
                    "subject": result.signer_certificate.subject.human_friendly,
                }
            )
        return report

    def import_ldif(
        self,
        data: bytes | str,
        *,
        source: str = "ldif",
        skip_unverifiable: bool = False,
        now: datetime | None = None,
    ) -> ImportReport:
        """Import an ICAO PKD LDIF file, complete or delta (ds/crl/ml/dl branches).

        Master lists are processed first (they bring CSCAs), then deviation lists, CRLs and DS certificates;
        ``changetype: delete`` removes what an earlier LDIF import stored under that DN. Without
        ``skip_unverifiable`` (default) any entry that fails verification rejects the whole file, naming
        the entry and its line; with it, such entries are skipped and listed in the report.
        """
        from pki.ldif import parse_ldif

        entries = parse_ldif(data)
        report = ImportReport()
        order = {"ml": 0, "csca": 1, "dl": 2, "crl": 3, "ds": 4}
        work: list[tuple[int, int, Any, str, bytes]] = []
        with self.transaction():
            for entry in entries:
                if entry.changetype == "delete":
                    for fp, obj in list(self._objects.items()):
                        if obj.dn == entry.dn:
                            del self._objects[fp]
                            report.removed.append({"kind": obj.kind, "fingerprint": fp, "dn": entry.dn})
                    continue
                objs = entry.objects()
                if not objs and entry.branch is not None:
                    problem = TrustStoreError(
                        f"LDIF entry {entry.dn} (line {entry.line}) carries no PKD object",
                        code="LDIF_ENTRY_EMPTY",
                        object=entry.dn,
                    )
                    if not skip_unverifiable:
                        raise problem
                    report.skipped.append({"object": entry.dn, "code": problem.code, "message": problem.message})
                for kind, der in objs:
                    work.append((order[kind], entry.line, entry, kind, der))
            self._reindex()
            for _, line, entry, kind, der in sorted(work, key=lambda w: (w[0], w[1])):
                label = f"LDIF entry {entry.dn} (line {line})"
                try:
                    with self.transaction():
                        if kind == "ml":
                            self.import_master_list(der, source=source, dn=entry.dn, now=now, report=report)
                        elif kind == "dl":
                            self.import_deviation_list(der, source=source, dn=entry.dn, report=report)
                        elif kind == "crl":
                            self.add_crl(load_crl(der, label), source, dn=entry.dn, report=report)
                        elif kind == "csca":
                            cert = load_certificate(der, label)
                            if certificate_role(cert) == "link":
                                self.add_link(cert, source, dn=entry.dn, report=report)
                            else:
                                raise TrustStoreError(
                                    f"{label}: a CSCA is trusted only through a master list or an explicit add",
                                    code="CSCA_NOT_TRUSTED",
                                    object=label,
                                )
                        else:
                            self.add_ds(load_certificate(der, label), source, dn=entry.dn, report=report)
                except TrustStoreError as exc:
                    if not skip_unverifiable:
                        raise TrustStoreError(
                            f"{label}: {exc.message}", code=exc.code, object=label, line=line
                        ) from exc
                    report.skipped.append({"object": label, "code": exc.code, "message": exc.message})
        return report

    def import_file(
        self,
        path: str | os.PathLike[str],
        *,
        anchor_ok: bool = False,
        skip_unverifiable: bool = False,
        now: datetime | None = None,
    ) -> ImportReport:
        """Import one file by what it holds: LDIF, master list (CMS), CRL, or a certificate.

        A self-signed CSCA certificate becomes an anchor only with ``anchor_ok`` (``--trust-anchor``).
        """
        p = Path(path)
        try:
            return self._import_file(p, anchor_ok=anchor_ok, skip_unverifiable=skip_unverifiable, now=now)
        except TrustStoreError as exc:
            if p.name in exc.message:
                raise
            raise TrustStoreError(f"{p.name}: {exc.message}", code=exc.code, object=p.name) from exc

    def _import_file(self, p: Path, *, anchor_ok: bool, skip_unverifiable: bool, now: datetime | None) -> ImportReport:
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise TrustStoreError(f"{p.name}: cannot read ({exc.strerror or type(exc).__name__})",
                                  code="FILE_UNREADABLE", object=p.name) from None
        what = p.name
        head = data.lstrip()[:64]
        if head.startswith((b"version:", b"dn:", b"#")):
            return self.import_ldif(data, source=what, skip_unverifiable=skip_unverifiable, now=now)
        if pem.detect(data):
            try:
                kind, _, _ = pem.unarmor(data)
            except ValueError:
                raise TrustStoreError(f"{what}: PEM armor is malformed", code="PEM_MALFORMED",
                                      object=what) from None
            if kind == "X509 CRL":
                return self.add_crl(load_crl(data, what), what)
            cert = load_certificate(data, what)
        else:
            try:
                ci = parse_content_info(data, what)
                ctype = ci["content"]["encap_content_info"]["content_type"].dotted
                if ctype == ID_ICAO_DEVIATION_LIST:
                    return self.import_deviation_list(data, source=what)
                return self.import_master_list(data, source=what, now=now)
            except CMSError:
                pass
            try:
                crl = asn1crl.CertificateList.load(data, strict=True)
                crl.native  # noqa: B018
                return self.add_crl(crl, what)
            except _ASN1_ERRORS:
                pass
            cert = load_certificate(data, what)
        role = certificate_role(cert)
        if role == "csca":
            if not anchor_ok:
                raise TrustStoreError(
                    f"{what} is a CSCA certificate: trust it explicitly (--trust-anchor)",
                    code="CSCA_NOT_TRUSTED",
                    object=what,
                )
            return self.add_csca(cert, what)
        if role == "link":
            return self.add_link(cert, what)
        return self.add_ds(cert, what)

    def remove(self, fp: str) -> None:
        with self.transaction():
            if self._objects.pop(fp, None) is None:
                raise TrustStoreError(f"no object {fp} in the trust store", code="NOT_FOUND")


def _crl_signed_by(crl: asn1crl.CertificateList, issuer: x509.Certificate) -> bool:
    from pki.algorithms import describe_signature_algorithm, load_public_key, signature_bits, verify_signature

    try:
        scheme, hash_alg, salt = describe_signature_algorithm(crl["signature_algorithm"])
        key = load_public_key(issuer["tbs_certificate"]["subject_public_key_info"])
        tbs = crl["tbs_cert_list"]
        signature = signature_bits(crl["signature"], tbs["signature"], crl["signature_algorithm"])
        verify_signature(key, scheme, hash_alg, tbs.dump(), signature, salt)
        return True
    except PKIError:
        return False
