"""Reader: open a chip ID card over a Transport, read it, and prove it genuine (ICAO 9303-10/-11/-12).

Public API (safe entry points first, STYLE §12)::

    from reader import inspect_card, reverify, EvidenceBundle, VerificationReport, ReasonCode

    # at a counter: read and verify a card
    with PcscTransport("Virtual PCD") as t:               # or InProcessTransport(virtual_chip)
        report = inspect_card(t, AccessKey.from_can("123456"), trust_store,
                              at=datetime.now(UTC), aa_challenge=challenge_from_server,
                              policy=ReadPolicy())        # PACE-first, BAC fallback
    report.verdict, report.reason, report.checks           # Outcome, ReasonCode, tuple[Check, ...]
    report.to_json()                                        # the JSON contract
    report.evidence.to_json()                               # the evidence bundle to send to a server

    # on the server (station API): re-verify the evidence offline, without the card
    report = reverify(EvidenceBundle.from_json(text), trust_store, at=now,
                      expected_aa_challenge=challenge_the_server_chose)

Modules:
    reader.errors      ReasonCode (stable codes), ReaderError hierarchy
    reader.transport   PcscTransport (the only pyscard user), InProcessTransport, ReplayTransport
    reader.trace       TracingTransport + ApduTrace (redacting APDU recorder, savable)
    reader.reading     FileReader (READ BINARY with step-down, odd INS, resume), SELECT helpers
    reader.access      AccessKey, ReadPolicy, open_session (EF.CardAccess, PACE first, BAC fallback)
    reader.report      VerificationReport, Check, Outcome, DocumentData, AccessInfo, ApduStats
    reader.evidence    EvidenceBundle (format cancuoc-evidence/1), access_key_digest
    reader.verify      Passive Authentication + AA/CA evidence checks, reverify()
    reader.inspect     inspect_card() — the top entry point
    reader.cli         `cancuoc read`
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
    "inspect_card",
    "reverify",
]

_LAZY = {
    "AccessKey": "reader.access",
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
