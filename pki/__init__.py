"""pki: Vietnam's eMRTD PKI — CSCA, Document Signers, ML signer, CRLs, key stores, trust store, validation.

Public API (others code against these names; everything else is internal):

Key stores (`pki.keystore`, `pki.pkcs11store`)
    ``KeyStore`` protocol — ``generate_key_pair(label, spec: KeySpec) -> public key``,
    ``public_key(label)``, ``key_spec(label)``, ``has_key(label)``, ``labels()``,
    ``sign(label, data, hash, scheme) -> bytes`` (scheme ``"ecdsa"`` → DER ECDSA-Sig-Value,
    ``"pss"`` → RSASSA-PSS with MGF1(same hash) and salt = hash length, ``"pkcs1v15"``),
    ``generate_secret(label)`` (AES-128 inside the store), ``cmac(label, data) -> 16 bytes``,
    ``derive_key(label, context, length=16, purpose=b"") -> bytes`` (NIST SP 800-108 counter KDF with
    AES-CMAC: the batch master key diversifies a blank card's transport key; the master never leaves).
    ``FileKeyStore(dir, passphrase)`` — encrypted PKCS#8 per key; wrong passphrase →
    ``KeyStoreError(code="KEYSTORE_WRONG_PASSPHRASE")``.
    ``PKCS11KeyStore(module, token_label, pin)`` — python-pkcs11 (SoftHSM2 in tests), keys sensitive and
    non-extractable; missing token → ``KeyStoreError(code="KEYSTORE_NO_TOKEN")``.
    ``KeySpec("ec", curve="P-256"|"P-384"|"P-521"|"brainpoolP256r1"|"brainpoolP384r1"|"brainpoolP512r1")``,
    ``KeySpec("rsa", bits=2048..4096)``, ``KeySpec.parse("rsa:3072")``.
    ``open_keystore(keystore_dir=None, *, pkcs11_module=None, token_label=None,
    pin_env="CANCUOC_PKCS11_PIN")``.

Issuer (`pki.workspace`)
    ``PKI(home, keystore)`` with ``init(policy=IssuerPolicy(), now=None)``, ``rotate_ds(now)``,
    ``rollover_csca(now) -> {"csca", "new_with_old", "old_with_new"}``, ``revoke(serial, reason, now)``,
    ``issue_crl(now) -> [CertificateList]``, ``master_list(now) -> bytes`` (ContentInfo DER),
    ``export(out_dir, now)``, ``status(now) -> dict``, ``current_ds()``, ``certificates(role)``,
    ``latest_crls()``, ``keystore`` (an audited key store: every operation lands in the audit trail),
    ``issue_service_certificate(name, key="ec:P-256")`` and ``service_key(name) -> (Signer, cert, service CA
    cert)`` for non-ICAO service keys such as the station API's receipt key (under a separate Service CA).
    ``PKI.sign_sod(data_group_hashes: dict[int, bytes], doc_type="ID", *, hash_algorithm="sha256",
    lds_version=None, unicode_version=None, now=None) -> bytes`` — EF.SOD (tag 77 + ContentInfo);
    module function ``sign_sod(data_group_hashes, doc_type="ID", *, workspace=None, ...)``.
    ``PKI.sign_card_security(security_infos_der, doc_type="ID", *, now=None) -> bytes`` — EF.CardSecurity
    (ContentInfo over SecurityInfos, id-SecurityObject) by the current DS under the same rules and counting.
    ``signature_count(record)``, ``crl_due(now)``, ``trust_store_objects()`` (own CSCAs, links, DS, CRLs),
    ``seed_trust_store(store)`` (imports them into a verifier's TrustStore).
    ``open_workspace(home=None, keystore=None)`` from ``cancuoc.settings`` (pki_dir, keystore_dir,
    env CANCUOC_KEYSTORE_PASSPHRASE; dev default refused in production).
    Policies: ``IssuerPolicy`` and ``RotationPolicy`` (frozen dataclasses).
    Refusals: ``SigningRefused`` (codes DS_ROTATION_DUE, DS_NOT_CURRENT, DS_EXPIRED, DS_KEY_EXPIRED,
    DS_DOC_TYPE, CSCA_KEY_USAGE_ENDED, ...).

CMS (`pki.cms`) — used for Passive Authentication by the reader
    ``build_signed_data(econtent_type, econtent, signer, signer_certificate, *, signing_time, certificates)``
    ``verify_signed_data(content_info_or_der, *, expected_content_type=None, signer_certificate=None,
    what="SignedData") -> SignedDataVerification`` (econtent as read, signer certificate, scheme, hashes,
    signing time); raises ``CMSError`` (CMS_MALFORMED, CMS_DIGEST_MISMATCH, CMS_SIGNATURE_INVALID, ...).

Verifier (`pki.truststore`, `pki.validation`)
    ``TrustStore(directory=None)``: ``add_csca(cert)``, ``add_link``, ``add_ds``, ``add_crl``,
    ``import_master_list(der, anchor=None, strict=True)``, ``import_ldif(text, skip_unverifiable=False)``,
    ``import_file(path, anchor_ok=False)``, ``anchors()``, ``links()``, ``crls()``, ``summary()``;
    every import verified and all-or-nothing (``TrustStoreError`` with a code, naming the object).
    ``validate_ds_path(ds_cert, at, trust_store, policy=ValidationPolicy(), *, signed_at=None)
    -> PathValidationResult`` (``.path``, ``.warnings``, ``.model``) or ``PKIValidationError(code, ...)`` with
    codes DS_NOT_SIGNED_BY_CSCA, DS_REVOKED, DS_EXPIRED, DS_NOT_YET_VALID, DS_KEY_USAGE, DS_DOC_TYPE,
    DS_KEY_EXPIRED, CSCA_EXPIRED, CSCA_NOT_YET_VALID, CSCA_UNKNOWN, CSCA_REVOKED, CRL_STALE, CRL_MISSING,
    ALGORITHM_NOT_ALLOWED, CERT_MALFORMED. ``ValidationPolicy`` (frozen): crl_missing / crl_stale
    (reject|warn|ignore), crl_grace, allow_sha1, chain_model, max_links, require_document_type.
    ``pki.asn1.document_type_permitted(types, code)`` (entry ``P`` covers ``PM``) and
    ``pki.asn1.document_types(cert)``; ``CscaMasterList``, ``DocumentTypeListSyntax`` (asn1crypto classes).

Linter (`pki.lint`)
    ``lint_bytes(data, name) -> list[Finding]`` / ``lint_file(path)``; ``Finding(code, severity, message,
    object)``; ``cancuoc pki lint FILE...``.

Errors (`pki.errors`): ``PKIError`` → ``KeyStoreError``, ``CertificateError``, ``CMSError``,
``SigningRefused``, ``WorkspaceError``, ``TrustStoreError`` → ``LDIFError``, ``AuditError``,
``PKIValidationError``; each has ``code``, ``message``, ``details``, ``to_dict()``.
"""

from __future__ import annotations

from pki.algorithms import KeySpec
from pki.cms import SignedDataVerification, build_signed_data, verify_signed_data
from pki.errors import (
    AuditError,
    CertificateError,
    CMSError,
    KeyStoreError,
    LDIFError,
    PKIError,
    PKIValidationError,
    SigningRefused,
    TrustStoreError,
    WorkspaceError,
)
from pki.keystore import FileKeyStore, KeyStore
from pki.truststore import TrustStore
from pki.validation import PathValidationResult, ValidationPolicy, validate_ds_path
from pki.workspace import PKI, IssuerPolicy, RotationPolicy, open_keystore, open_workspace, sign_sod

__all__ = [
    "PKI",
    "AuditError",
    "CMSError",
    "CertificateError",
    "FileKeyStore",
    "IssuerPolicy",
    "KeySpec",
    "KeyStore",
    "KeyStoreError",
    "LDIFError",
    "PKIError",
    "PKIValidationError",
    "PathValidationResult",
    "RotationPolicy",
    "SignedDataVerification",
    "SigningRefused",
    "TrustStore",
    "TrustStoreError",
    "ValidationPolicy",
    "WorkspaceError",
    "build_signed_data",
    "open_keystore",
    "open_workspace",
    "sign_sod",
    "validate_ds_path",
    "verify_signed_data",
]
