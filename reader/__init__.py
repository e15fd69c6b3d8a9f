"""Reader: open a chip ID card over a Transport, read it, and prove it genuine (ICAO 9303-10/-11/-12).

Public API (safe entry points first, STYLE §12)::

    from datetime import UTC, datetime
    from reader import inspect_card, reverify, EvidenceBundle, VerificationReport, ReasonCode, Outcome
    from reader.access import can_key, mrz_key, mrz_key_from_text, ReadPolicy
    from reader.transport import PcscTransport, InProcessTransport

    # at a counter: read and verify a card
    with PcscTransport("Virtual PCD") as t:                 # or InProcessTransport(virtual_chip)
        report = inspect_card(t, can_key("012345"), trust_store, at=datetime.now(UTC),
                              aa_challenge=challenge_from_server,      # 8 bytes, or None = random
                              policy=ReadPolicy())                     # PACE first, BAC fallback
    report.verdict, report.reason       # Outcome.PASSED/WARNING/FAILED, the first failing ReasonCode
    report.checks                       # tuple[Check(id, outcome, reason, detail), ...]
    report.document                     # DocumentData: mrz_fields, dg13, portrait (+ portrait_path)
    report.to_json()                    # the JSON contract ("cancuoc-verification-report/1")
    report.evidence.to_json()           # the evidence bundle ("cancuoc-evidence/1") to send to a server

    # on the server (station API): re-verify the evidence offline, in another process, without the card
    report = reverify(bundle_or_json, trust_store, at,
                      expected_aa_challenge=challenge_the_server_chose)

`reverify(bundle, trust_store, at, expected_aa_challenge=None) -> VerificationReport` never raises on
bad input: a malformed bundle gives verdict FAILED with EVIDENCE_INVALID. It redoes Passive
Authentication over the files as read (SOD signature with the algorithm from SignerInfo; DS → CSCA at
`at` with CRLs and link certificates; every DG hash; EF.COM vs SOD; DG1 vs the access key digest;
EF.CardSecurity), verifies the AA signature with the DG15 key and requires the recorded challenge to
equal `expected_aa_challenge` (AA_CHALLENGE_MISMATCH otherwise), and checks the CA / PACE-CAM record
against DG14 / EF.CardSecurity (PACE-CAM is recomputed). Checks only the live session could see
(access, DG3 → EAC_REQUIRED, CA's SM confirmation) are carried over from the bundle as reported.
The chip's anti-clone proof for a server is AA on its own challenge (plus the chip key bound at
issuance, which the station API compares with DG14/DG15 from the bundle).

Check ids (stable): access, read (a fatal read error), read.DGn, pa.sod_signature, pa.ds_path,
pa.ds_path.<pki warning code> (WARNING, e.g. a stale CRL accepted by policy), pa.dg_hash.DGn, pa.com_sod,
pa.dg1_access_key, pa.card_security, pa.legacy_algorithm, doc.DG1, doc.DG2, doc.DG13, ca, aa, evidence,
internal. Reason codes: `reader.errors.ReasonCode`.

Verdict (`reader.report.decide_verdict`): PASSED when no check failed, the SOD signature and the DS path
passed, DG hashes were checked and — when the chip has DG14/DG15 — CA/PACE-CAM or AA passed; WARNING
when a check warned or no clone check is possible; FAILED otherwise, `reason` = the first failure.

Modules:
    reader.errors      ReasonCode (stable codes), ReaderError hierarchy
    reader.transport   PcscTransport (the only pyscard user), InProcessTransport, ReplayTransport
    reader.trace       TracingTransport + ApduTrace (redacting APDU recorder, savable)
    reader.reading     FileReader (READ BINARY with step-down, odd INS, resume), SELECT helpers
    reader.access      AccessKey, ReadPolicy, open_session (EF.CardAccess, PACE first, BAC fallback)
    reader.report      VerificationReport, Check, Outcome, DocumentData, AccessInfo, ApduStats
    reader.evidence    EvidenceBundle (format cancuoc-evidence/1), access_key_digest
    reader.chipauth    Chip Authentication, PACE-CAM check, Active Authentication (terminal side)
    reader.lds_view    EF.COM / DG1 / DG2 / DG13 / DG15 through icao9303.lds, as reader errors
    reader.verify      Passive Authentication + AA/CA evidence checks, reverify()
    reader.inspect     inspect_card() — the top entry point
    reader.cli         `cancuoc read`
    reader.testing     test/benchmark helpers: TestPKI, personalize(), resign(), with_files()
"""
from __future__ import annotations

from typing import Any

from reader.errors import ReaderError, ReasonCode
from reader.evidence import EvidenceBundle
from reader.report import Check, Outcome, VerificationReport

__all__ = [
    "AccessKey",
    "Check",
    "EvidenceBundle",
    "InProcessTransport",
    "Outcome",
    "PcscTransport",
    "ReadPolicy",
    "ReaderError",
    "ReasonCode",
    "VerificationReport",
    "can_key",
    "inspect_card",
    "mrz_key",
    "mrz_key_from_text",
    "reverify",
]

_LAZY = {
    "AccessKey": "reader.access",
    "can_key": "reader.access",
    "mrz_key": "reader.access",
    "mrz_key_from_text": "reader.access",
    "ReadPolicy": "reader.access",
    "InProcessTransport": "reader.transport",
    "PcscTransport": "reader.transport",
    "inspect_card": "reader.inspect",
    "reverify": "reader.verify",
}


def __getattr__(name: str) -> Any:
    # Lazy: `import reader` must not pull pyscard or the crypto stack (the capture subpackage and
    # the station API import parts of it).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
