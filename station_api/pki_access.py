"""How the station API reaches the PKI: its own trust store, its receipt key, the issuer's PKI workspace.

Decisions:

* **Trust store.** The service verifies against *its own* trust store, built in memory from (1) the
  persisted trust store in ``CANCUOC_HOME/trust`` (foreign CSCAs, master lists, CRLs imported with
  ``cancuoc pki``) and (2) the issuer's own PKI workspace (``CANCUOC_HOME/pki``: every CSCA generation,
  the link certificates, the newest CRLs). It is reloaded after every CRL, revocation or CSCA operation
  done through the API; other processes' changes are picked up at the next start (or a reload).
* **Receipt key.** A *service* key named ``station-receipts`` certified by the PKI's Service CA
  (``PKI.issue_service_certificate``), held in the same key store as the PKI (file or PKCS#11), never a
  Document Signer. If it does not exist yet it is created on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from station_api.settings import ApiSettings

log = logging.getLogger("station_api")

RECEIPT_KEY_NAME = "station-receipts"


class PkiReceiptSigner:
    """The receipt key in the PKI key store (``PKI.service_key``)."""

    def __init__(self, pki: Any, name: str = RECEIPT_KEY_NAME) -> None:
        from pki.errors import WorkspaceError

        try:
            signer, cert, ca = pki.service_key(name)
        except WorkspaceError as exc:
            if getattr(exc, "code", "") != "SERVICE_KEY_MISSING":
                raise
            log.warning("no receipt key %r yet: issuing one under the Service CA", name)
            pki.issue_service_certificate(name)
            signer, cert, ca = pki.service_key(name)
        # Decision: receipts are signed through the raw key store, not the PKI's audited wrapper (which
        # fsyncs one trail line per signature): every receipt is already recorded, with the SHA-256 of its
        # signature, in the station's own hash-chained audit log, in the decision's transaction.
        raw = getattr(pki, "raw_keystore", None)
        if raw is not None:
            from pki.profiles import Signer

            signer = Signer(raw, signer.label, signer.hash, signer.scheme)  # no audit context: raw store
        self._signer = signer
        self._cert_der = cert.dump()
        self._ca_der = ca.dump() if ca is not None else None

    @property
    def certificate_der(self) -> bytes:
        return self._cert_der

    @property
    def ca_certificate_der(self) -> bytes | None:
        return self._ca_der

    @property
    def algorithm(self) -> str:
        if self._signer.scheme == "ecdsa" and self._signer.hash == "sha256":
            return "ecdsa-with-SHA256"
        if self._signer.scheme == "pss" and self._signer.hash == "sha256":
            return "rsassa-pss-SHA256"
        raise ValueError("receipt key must sign with SHA-256 (ECDSA or RSASSA-PSS)")

    def sign(self, data: bytes) -> bytes:
        return self._signer.sign(data)


def build_trust_store(settings: ApiSettings, pki: Any | None) -> Any:
    """The in-memory trust store of the module docstring (persisted store + own PKI)."""
    from pki.errors import PKIError
    from pki.truststore import TrustStore

    store = TrustStore()
    sources: list[tuple[str, list[Any]]] = []
    if settings.truststore_dir.exists():
        persisted = TrustStore(settings.truststore_dir)
        sources += [("csca", persisted.anchors()), ("link", persisted.links()), ("crl", persisted.crls())]
    if pki is not None and pki.initialised:
        sources += [("csca", pki.certificates("csca")), ("link", pki.certificates("link")), ("crl", pki.latest_crls())]
    adders = {"csca": store.add_csca, "link": store.add_link, "crl": store.add_crl}
    for kind, objects in sources:
        for obj in objects:
            try:
                adders[kind](obj, source="station-api")
            except PKIError as exc:  # duplicates, or a superseded CRL: the store keeps what it trusts
                log.debug("trust store: %s not added (%s)", kind, getattr(exc, "code", type(exc).__name__))
    if not store.anchors():
        raise LookupError("no trusted CSCA: initialise the PKI (`cancuoc pki init`) or import CSCAs")
    return store


def default_factories(settings: ApiSettings) -> dict[str, Callable[[], Any]]:
    """Lazy loaders over the workspace (nothing is opened until first use)."""
    cache: dict[str, Any] = {}

    def pki() -> Any:
        if "pki" not in cache:
            from pki.workspace import PKI, open_keystore

            cache["pki"] = PKI(settings.pki_dir, open_keystore(settings.keystore_dir))
        return cache["pki"]

    def trust_store() -> Any:
        workspace = pki() if settings.pki_dir.exists() else None
        return build_trust_store(settings, workspace)

    def receipt_signer() -> Any:
        return PkiReceiptSigner(pki())

    return {"pki": pki, "trust_store": trust_store, "receipt_signer": receipt_signer}
