"""`inspect_card`: the reader's safe top entry point — open, read, authenticate, verify, report.

Order of operations (ICAO 9303-11 §4, §5, §6; LESSONS.md):
  1. reset, EF.CardAccess, PACE (else BAC) — `reader.access.open_session`;
  2. EF.COM, EF.SOD, DG14 (small files first);
  3. PACE-CAM check against EF.CardSecurity, or Chip Authentication with the DG14 key (SM restarts with
     the CA keys; every later read confirms them);
  4. the remaining data groups (DG2 last, optional: `ReadPolicy.read_portrait`), DG3/DG4 answering 6982
     are recorded as EAC_REQUIRED, not fatal;
  5. Active Authentication with DG15 on the caller's challenge;
  6. `reader.verify.verify_evidence` on the evidence bundle — exactly what a server re-runs offline.
A failure at any step still returns a report (verdict FAILED, the step's reason code, what was read so
far); `inspect_card` raises only for programming errors in its arguments.
"""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from icao9303.transport import Transport
from reader.access import AccessKey, ReadPolicy, Session, open_session
from reader.chipauth import perform_aa, perform_ca, perform_cam_check
from reader.errors import MalformedFileError, ReaderError, ReasonCode, TransportError
from reader.evidence import EvidenceBundle
from reader.lds_view import com_dg_numbers, dg15_public_key_info
from reader.reading import (
    DEFAULT_READ_SIZE_MEMORY,
    FILES,
    FileReader,
    FileReadError,
    ReadSizeMemory,
    extended_length_from_atr,
    extended_length_from_atr_info,
)
from reader.report import AccessInfo, ApduStats, Check, Outcome, VerificationReport, decide_verdict
from reader.trace import ApduTrace, TracingTransport
from reader.verify import VerificationOptions, verify_evidence

__all__ = ["inspect_card"]

_FATAL_READ = (ReasonCode.SM_ERROR, ReasonCode.CARD_REMOVED, ReasonCode.TRANSPORT_ERROR, ReasonCode.NO_CARD,
               ReasonCode.NO_READER)


class _Run:
    """The mutable state of one inspection (kept out of the public API)."""

    def __init__(self, transport: Transport, key: AccessKey, policy: ReadPolicy, trace: ApduTrace,
                 memory: ReadSizeMemory) -> None:
        self.raw = TracingTransport(transport, trace)
        self.key = key
        self.policy = policy
        self.trace = trace
        self.memory = memory
        self.session: Session | None = None
        self.files: dict[str, bytes] = {}
        self.unreadable: dict[str, str] = {}
        self.checks: list[Check] = []
        self.timings: dict[str, float] = {}
        self.ca_record: dict[str, Any] | None = None
        self.aa: tuple[bytes, bytes] | None = None
        self.reader: FileReader | None = None
        self.ca_done_with: bytes | None = None

    def timed(self, name: str, t0: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    def reopen(self) -> Transport:
        """New session after a transient error or an SM abort: access again, CA again if it was done."""
        t0 = time.perf_counter()
        self.session = open_session(self.raw, self.key, self.policy, memory=self.memory)
        if self.ca_done_with is not None:
            perform_ca(self.session.transport, self.ca_done_with)
        self.timed("reopen", t0)
        return self.session.transport

    def read(self, name: str) -> bytes | None:
        assert self.reader is not None
        f = FILES[name]
        try:
            data = self.reader.read(f)
        except FileReadError as exc:
            if exc.reason in (ReasonCode.EAC_REQUIRED, ReasonCode.FILE_NOT_FOUND, ReasonCode.ACCESS_DENIED):
                self.unreadable[name] = exc.reason.value
                eac = exc.reason is ReasonCode.EAC_REQUIRED
                detail = "not readable without EAC" if eac else str(exc.args[0])
                self.checks.append(Check.skipped(f"read.{name}", exc.reason, detail))
                return None
            raise
        self.files[name] = data
        return data


def _atr(transport: Any) -> bytes | None:
    atr = getattr(transport, "atr", None)
    return bytes(atr) if isinstance(atr, bytes | bytearray) else None


def _policy_for(atr: bytes | None) -> ReadPolicy:
    """The default policy: the card generation's own when the ATR names a known firmware profile (e.g.
    PACE and Chip Authentication required for vn-cc-2024, `ReadPolicy.for_profile`), else PACE-first
    with BAC fallback."""
    if atr:
        try:
            from firmware_profiles import detect_profile

            return ReadPolicy.for_profile(detect_profile(atr).name)
        except Exception:  # noqa: S110 - unknown chip: the generic policy
            pass
    return ReadPolicy()


def _initial_read_size(atr: bytes | None, atr_info: bytes | None, policy: ReadPolicy) -> tuple[int, bool]:
    """(first READ BINARY size, extended length allowed), from the most specific source: EF.ATR/INFO's
    DO 7F66, then a firmware profile whose ATR matches (profiles are data, `firmware_profiles`), then the
    ATR's card capabilities; else short reads of `policy.initial_read_size`.

    Decision: a read size from a profile is its `max_read_binary`; the step-down still guards it."""
    info_ne = extended_length_from_atr_info(atr_info) if atr_info else None
    if info_ne:
        return min(info_ne, 65536), info_ne > 256
    if atr:
        try:
            from firmware_profiles import detect_profile

            limits = detect_profile(atr).apdu
            if limits.extended_length:
                return min(limits.max_read_binary, limits.max_response_data, 65536), True
            return min(limits.max_read_binary, 256), False
        except Exception:  # noqa: S110 - unknown ATR: fall through to the generic sources
            pass
    if extended_length_from_atr(atr):
        return 65536, True
    return min(policy.initial_read_size, 256), False


def _fail_report(run: _Run, check: Check, at: datetime, t_start: float) -> VerificationReport:
    run.checks.append(check)
    return _report(run, at, t_start, verified=None)


def _bundle(run: _Run, at: datetime) -> EvidenceBundle:
    s = run.session
    return EvidenceBundle(
        files=dict(run.files), read_at=at, access=s.access if s else None,
        access_key_digest=s.key_digest if s else None, unreadable=dict(run.unreadable),
        aa_challenge=run.aa[0] if run.aa else None, aa_signature=run.aa[1] if run.aa else None,
        chip_authentication=run.ca_record, session_checks=tuple(run.checks),
        atr=(_atr(run.raw.inner) or b"").hex() or None)


def _report(run: _Run, at: datetime, t_start: float, verified: Any) -> VerificationReport:
    bundle = _bundle(run, at)
    checks = list(run.checks)
    document = None
    chip_auth = None
    aa_ok = False
    clone_possible = False
    if verified is not None:
        ids = {c.id for c in checks}
        checks += [c for c in verified.checks if c.id not in ids or c.id in ("ca",)]
        checks = _dedupe(checks)
        document = verified.document
        chip_auth = verified.chip_authentication
        aa_ok = verified.active_authentication
        clone_possible = verified.clone_check_possible
        bundle = EvidenceBundle(**{**bundle.__dict__, "certificates": tuple(verified.certificates_used)})
    verdict, reason = decide_verdict(checks, clone_check_possible=clone_possible)
    if verified is None and verdict is not Outcome.FAILED:
        verdict, reason = Outcome.FAILED, ReasonCode.NOT_PERFORMED
    stats = run.reader.stats if run.reader else None
    apdu = ApduStats(count=run.trace.count, bytes_sent=run.trace.bytes_sent,
                     bytes_received=run.trace.bytes_received, wire_time=run.trace.wire_time,
                     read_commands=stats.read_commands if stats else 0,
                     step_downs=stats.step_downs if stats else 0, resumes=stats.resumes if stats else 0,
                     read_size=run.reader.size if run.reader else 0)
    timings = dict(run.timings)
    timings["total"] = time.perf_counter() - t_start
    access: AccessInfo | None = run.session.access if run.session else None
    return VerificationReport(
        verdict=verdict, reason=reason, checks=tuple(checks), validated_at=at, document=document,
        access=access, chip_authentication=chip_auth, active_authentication=aa_ok,
        files_read=tuple(run.files), timings=timings, apdu=apdu, evidence=bundle, offline=False,
        atr=bundle.atr)


def _dedupe(checks: list[Check]) -> list[Check]:
    """One check per id: a failed one wins over the session's own record of the same step."""
    out: dict[str, Check] = {}
    for c in checks:
        prev = out.get(c.id)
        if prev is None or (c.outcome is Outcome.FAILED and prev.outcome is not Outcome.FAILED):
            out[c.id] = c
    return list(out.values())


def inspect_card(transport: Transport, access_key: AccessKey, trust_store: Any, *, at: datetime,
                 aa_challenge: bytes | None = None, policy: ReadPolicy | None = None,
                 trace: ApduTrace | None = None, portrait_path: str | Path | None = None,
                 memory: ReadSizeMemory | None = None) -> VerificationReport:
    """Read and verify the card behind `transport` (see the module docstring).

    Args:
        transport: any `Transport` (PcscTransport, InProcessTransport, ...), opened by the caller.
        access_key: `reader.access.can_key(...)` / `mrz_key(...)` / `mrz_key_from_text(...)`.
        trust_store: `pki`'s trust store (CSCAs, link certificates, CRLs).
        at: the validation time of Passive Authentication (explicit, STYLE §9).
        aa_challenge: 8 bytes chosen by the server for Active Authentication (random if None).
        policy: `ReadPolicy`; None = the card generation's policy from its ATR (`_policy_for`), else
            PACE-first with BAC fallback.
        trace: an `ApduTrace` to record the (redacted) exchange; one is created if None.
        portrait_path: where to save the DG2 image (suffix added from its format).
        memory: per-chip read-size memory (process-wide by default).
    """
    t_start = time.perf_counter()
    if _atr(transport) is None and callable(getattr(transport, "open", None)):
        try:
            transport.open()  # type: ignore[attr-defined]  # power up: the ATR names the chip
        except ReaderError as exc:
            run0 = _Run(transport, access_key, policy or ReadPolicy(), trace or ApduTrace(),
                        memory or DEFAULT_READ_SIZE_MEMORY)
            return _fail_report(run0, Check.failed("access", exc.reason, str(exc.args[0])), at, t_start)
    policy = policy or _policy_for(_atr(transport))
    run = _Run(transport, access_key, policy, trace if trace is not None else ApduTrace(),
               memory if memory is not None else DEFAULT_READ_SIZE_MEMORY)
    # 1. access
    t0 = time.perf_counter()
    try:
        run.session = open_session(run.raw, access_key, policy, memory=run.memory)
    except ReaderError as exc:
        return _fail_report(run, Check.failed("access", exc.reason, str(exc.args[0])), at, t_start)
    except Exception as exc:  # see below: never a crash
        return _fail_report(run, Check.failed("access", ReasonCode.INTERNAL_ERROR, type(exc).__name__),
                            at, t_start)
    run.timed("access", t0)
    s = run.session
    run.checks.append(Check.passed("access", f"{s.access.method}"
                                   + (f"-{s.access.mapping}" if s.access.mapping else "")
                                   + f" with {s.access.password_type}"
                                   + ("; " + "; ".join(s.notes) if s.notes else "")))
    if s.card_access is not None:
        run.files["EF.CardAccess"] = s.card_access
    atr = _atr(transport)
    initial, extended = _initial_read_size(atr, s.atr_info, policy)
    run.reader = FileReader(s.transport, initial_size=initial, extended=extended,
                            memory=run.memory, chip_key=(atr or b"").hex(), reopen=run.reopen,
                            max_resumes=policy.max_resumes)
    try:
        # 2. small files first
        t0 = time.perf_counter()
        com = run.read("EF.COM")
        run.read("EF.SOD")
        listed: list[int] = []
        if com is not None:
            try:
                listed = com_dg_numbers(com)
            except MalformedFileError:
                listed = list(range(1, 17))  # read what the chip has; PA reports the malformed EF.COM
        wanted = [n for n in dict.fromkeys(listed) if n not in policy.skip_dgs]
        if not policy.read_portrait and 2 in wanted:
            wanted.remove(2)
            run.unreadable["DG2"] = ReasonCode.NOT_PERFORMED.value
            run.checks.append(Check.skipped("read.DG2", ReasonCode.NOT_PERFORMED,
                                            "portrait skipped by policy"))
        dg14 = run.read("DG14") if 14 in wanted else None
        run.timed("read", t0)
        # 3. chip authentication
        t0 = time.perf_counter()
        _chip_authentication(run, dg14)
        run.timed("chip_authentication", t0)
        # 4. the rest, DG2 last
        t0 = time.perf_counter()
        order = [n for n in wanted if n not in (2, 14)] + ([2] if 2 in wanted else [])
        for n in order:
            run.read(f"DG{n}")
        run.timed("read", t0)
        # 5. active authentication
        t0 = time.perf_counter()
        _active_authentication(run, aa_challenge)
        run.timed("active_authentication", t0)
    except ReaderError as exc:
        step = exc.step or "read"
        return _fail_report(run, Check.failed("read", exc.reason, f"{step}: {exc.args[0]}"), at, t_start)
    except Exception as exc:  # a bug or an unforeseen protocol error: still a report, never a crash
        reason = ReasonCode.SM_ERROR if str(getattr(exc, "reason", "")).startswith("sm.") \
            else ReasonCode.INTERNAL_ERROR
        return _fail_report(run, Check.failed("read", reason, type(exc).__name__), at, t_start)
    # 6. verification of the evidence
    t0 = time.perf_counter()
    verified = verify_evidence(_bundle(run, at), trust_store, at=at, expected_aa_challenge=None,
                               options=VerificationOptions(allow_sha1=policy.allow_sha1))
    run.timed("verify", t0)
    if portrait_path is not None and verified.document is not None and verified.document.portrait:
        from dataclasses import replace

        try:
            saved = verified.document.save_portrait(portrait_path)
            verified.document = replace(verified.document, portrait_path=str(saved))
        except OSError:
            pass  # the verification stands; the caller sees portrait_path None (the CLI checks it first)
    return _report(run, at, t_start, verified)


def _chip_authentication(run: _Run, dg14: bytes | None) -> None:
    policy, s = run.policy, run.session
    assert s is not None
    if policy.chip_authentication == "skip":
        return
    pace = s.pace_result
    is_cam = pace is not None and getattr(getattr(pace, "mapping", None), "name", "") == "CAM"
    if is_cam:
        cs = run.read("EF.CardSecurity")
        try:
            if cs is None:
                raise ReaderError("EF.CardSecurity not readable", reason=ReasonCode.CAM_FAILED, step="CAM")
            run.ca_record = perform_cam_check(pace, cs)
            run.checks.append(Check.passed("ca", "PACE-CAM verified against EF.CardSecurity"))
        except (ReaderError, Exception) as exc:
            if isinstance(exc, TransportError):
                raise
            reason = exc.reason if isinstance(exc, ReaderError) else (
                ReasonCode.MALFORMED_FILE if _malformed(exc) else ReasonCode.CAM_FAILED)
            why = getattr(exc, "reason", type(exc).__name__)
            run.checks.append(Check.failed("ca", reason, f"PACE-CAM: {why}"))
        return
    if dg14 is None:
        if policy.chip_authentication == "require":
            run.checks.append(Check.failed("ca", ReasonCode.CA_NOT_SUPPORTED, "no DG14"))
        return
    try:
        run.ca_record = perform_ca(s.transport, dg14)
        run.ca_done_with = dg14
        # the first exchange under the new keys confirms them (9303-11 §6.2.1 note)
        run.reader.in_application = True  # type: ignore[union-attr]
        run.reader._select_for(FILES["EF.COM"])  # type: ignore[union-attr]
        run.checks.append(Check.passed("ca", "Chip Authentication: SM restarted with the chip's keys"))
    except TransportError:
        raise
    except Exception as exc:
        reason = exc.reason if isinstance(exc, ReaderError) and exc.reason is not ReasonCode.CARD_ERROR \
            else ReasonCode.CA_FAILED
        if isinstance(exc, MalformedFileError) or _malformed(exc):
            reason = ReasonCode.MALFORMED_FILE
        run.checks.append(Check.failed("ca", reason, f"CA: {getattr(exc, 'reason', type(exc).__name__)}"))
        # the SM session is dead after a failed CA: reopen without CA for the remaining reads
        run.ca_done_with = None
        run.reader.transport = run.reopen()  # type: ignore[union-attr]


def _malformed(exc: BaseException) -> bool:
    """An icao9303 error saying a file (DG14, EF.CardSecurity) does not parse."""
    reason = getattr(exc, "reason", "")
    return isinstance(reason, str) and (reason.startswith(("lds.", "tlv.")) or reason == "protocol.malformed")


def _active_authentication(run: _Run, challenge: bytes | None) -> None:
    if not run.policy.active_authentication or "DG15" not in run.files:
        return
    assert run.session is not None and run.reader is not None
    try:
        key_info = dg15_public_key_info(run.files["DG15"])
        run.aa = perform_aa(run.reader.transport, key_info, challenge)
    except TransportError:
        raise
    except ReaderError as exc:
        run.checks.append(Check.failed("aa", exc.reason if exc.reason is not ReasonCode.CARD_ERROR
                                       else ReasonCode.AA_FAILED, str(exc.args[0])))
    except Exception as exc:
        run.checks.append(Check.failed("aa", ReasonCode.AA_FAILED, type(exc).__name__))
