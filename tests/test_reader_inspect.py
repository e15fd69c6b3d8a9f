"""inspect_card / reverify against personalized virtual chips in-process: every negative case gives its
own reason code; the evidence bundle re-verifies offline."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icao9303.tlv import encode_tlv
from reader import EvidenceBundle, Outcome, ReasonCode, reverify
from reader.access import ReadPolicy, can_key, mrz_key, mrz_key_from_text
from reader.errors import TransientTransportError
from reader.inspect import inspect_card
from reader.reading import ReadSizeMemory
from reader.testing import NOW, SPECIMEN_MRZ_2, TestPKI, personalize, resign, with_files
from reader.trace import ApduTrace
from reader.transport import InProcessTransport

PA_IDS = ("pa.sod_signature", "pa.ds_path", "pa.com_sod", "pa.dg1_access_key")


@pytest.fixture(scope="module")
def card2021():
    return personalize("vn-cccd-2021")


@pytest.fixture(scope="module")
def card2024():
    return personalize("vn-cc-2024")


@pytest.fixture(scope="module")
def legacy():
    return personalize("legacy-bac")


def inspect(chip, key, trust_store, **kw):
    kw.setdefault("memory", ReadSizeMemory())
    return inspect_card(InProcessTransport(chip), key, trust_store, at=NOW, **kw)


def failed(report) -> dict[str, ReasonCode]:
    return {c.id: c.reason for c in report.checks if c.outcome is Outcome.FAILED}


def assert_pa_passed(report):
    for cid in PA_IDS:
        assert report.check(cid).outcome is Outcome.PASSED, (cid, report.check(cid))
    hashes = [c for c in report.checks if c.id.startswith("pa.dg_hash.")]
    assert hashes and all(c.outcome is Outcome.PASSED for c in hashes)


@pytest.mark.parametrize("profile", ["vn-cccd-2021", "vn-cc-2024", "legacy-bac"])
def test_reads_every_profile_in_process(profile, card2021, card2024, legacy):
    card = {"vn-cccd-2021": card2021, "vn-cc-2024": card2024, "legacy-bac": legacy}[profile]
    key = can_key(card.can) if card.profile.pace else mrz_key_from_text(card.mrz)
    r = inspect(card.chip, key, card.pki.trust_store())
    assert r.check("access").outcome is Outcome.PASSED
    assert r.access.method == ("PACE" if card.profile.pace else "BAC")
    assert_pa_passed(r)
    assert r.document.mrz_fields["personal_id"] == "079090012345"
    assert r.document.mrz_fields["surname"] == "NGUYEN"
    assert r.document.portrait.startswith(b"\xff\xd8\xff") and r.document.portrait_format == "jpeg"
    assert r.check("read.DG3").reason is ReasonCode.EAC_REQUIRED     # not fatal
    assert "DG2" in r.files_read and len(r.evidence.files["DG2"]) > 15_000
    assert r.apdu.count > 0 and r.apdu.bytes_received > 20_000
    assert r.verdict is Outcome.PASSED, failed(r)
    assert r.check("aa").outcome is Outcome.PASSED and r.active_authentication
    if card.profile.chip_authentication:
        assert r.check("ca").outcome is Outcome.PASSED
        assert r.chip_authentication == ("PACE-CAM" if "CAM" in card.profile.pace.mappings else "CA")
    again = reverify(EvidenceBundle.from_json(r.evidence.to_json()), card.pki.trust_store(), NOW,
                     expected_aa_challenge=r.evidence.aa_challenge)
    assert again.verdict is Outcome.PASSED, [c for c in again.checks if c.outcome is Outcome.FAILED]


@pytest.mark.parametrize("profile", ["vn-cccd-2021", "vn-cc-2024", "legacy-bac"])
def test_cloned_chip_fails_ca_and_aa(profile, card2021, card2024, legacy):
    original = {"vn-cccd-2021": card2021, "vn-cc-2024": card2024, "legacy-bac": legacy}[profile]
    clone = personalize(profile, clone_of=original)          # same files, its own keys
    key = can_key(clone.can) if clone.profile.pace else mrz_key_from_text(clone.mrz)
    r = inspect(clone.chip, key, original.pki.trust_store())
    f = failed(r)
    assert r.verdict is Outcome.FAILED
    assert f["aa"] is ReasonCode.AA_FAILED
    if clone.profile.chip_authentication:
        assert f["ca"] in (ReasonCode.CA_FAILED, ReasonCode.CAM_FAILED)
    assert "pa.sod_signature" not in f and "pa.ds_path" not in f   # the data itself is genuine


def test_mrz_key_opens_pace_chip_and_bac(card2021):
    r = inspect(card2021.chip, mrz_key_from_text(card2021.mrz), card2021.pki.trust_store())
    assert r.access.method == "PACE" and r.access.password_type == "MRZ"
    assert_pa_passed(r)
    r = inspect(card2021.chip, mrz_key_from_text(card2021.mrz), card2021.pki.trust_store(),
                policy=ReadPolicy(pace="never"))
    assert r.access.method == "BAC"
    assert_pa_passed(r)


def test_wrong_access_key(card2021, legacy):
    r = inspect(card2021.chip, can_key("999999"), card2021.pki.trust_store())
    assert r.verdict is Outcome.FAILED and failed(r) == {"access": ReasonCode.ACCESS_DENIED}
    r = inspect(legacy.chip, mrz_key("090012345", "900315", "310315"), legacy.pki.trust_store())
    assert failed(r) == {"access": ReasonCode.ACCESS_DENIED}
    assert "9003" not in r.to_json()  # no MRZ material in the report


def test_pace_required_policy(legacy):
    r = inspect(legacy.chip, mrz_key_from_text(legacy.mrz), legacy.pki.trust_store(),
                policy=ReadPolicy.for_profile("vn-cc-2024"))
    assert failed(r) == {"access": ReasonCode.PACE_REQUIRED}
    r = inspect(legacy.chip, can_key(legacy.can), legacy.pki.trust_store())
    assert failed(r) == {"access": ReasonCode.PACE_REQUIRED}


def test_skip_portrait(card2024):
    r = inspect(card2024.chip, can_key(card2024.can), card2024.pki.trust_store(),
                policy=ReadPolicy(read_portrait=False))
    assert "DG2" not in r.files_read and r.document.portrait is None
    assert r.check("read.DG2").outcome is Outcome.SKIPPED
    assert r.apdu.bytes_received < 8000


def test_extended_length_profile_reads_in_few_apdus(card2024):
    r = inspect(card2024.chip, can_key(card2024.can), card2024.pki.trust_store())
    assert r.apdu.read_size > 4096 and r.apdu.read_commands <= 12


# -- Passive Authentication negatives ------------------------------------------------------------------


def flip(data: bytes, index: int) -> bytes:
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def pki_case(card, pki, **build):
    chip, _ = resign(card, pki, **build)
    return inspect(chip, can_key(card.can), pki.trust_store())


def test_ds_expired(card2021):
    pki = TestPKI(ds_not_before=NOW - timedelta(days=100), ds_not_after=NOW - timedelta(days=10))
    r = pki_case(card2021, pki, signing_time=NOW - timedelta(days=5))
    assert failed(r)["pa.ds_path"] is ReasonCode.DS_EXPIRED


def test_csca_expired(card2021):
    pki = TestPKI(csca_not_after=NOW - timedelta(days=2))
    r = pki_case(card2021, pki, signing_time=NOW - timedelta(days=1))
    assert failed(r)["pa.ds_path"] is ReasonCode.CSCA_EXPIRED


def test_ds_revoked(card2021):
    r = pki_case(card2021, TestPKI(revoke_ds=True))
    assert failed(r)["pa.ds_path"] is ReasonCode.DS_REVOKED


def test_wrong_key_usage(card2021):
    r = pki_case(card2021, TestPKI(ds_role="link"))
    assert failed(r)["pa.ds_path"] is ReasonCode.KEY_USAGE_INVALID


def test_ds_not_from_trusted_csca(card2021):
    r = inspect(card2021.chip, can_key(card2021.can), TestPKI().trust_store())
    assert failed(r)["pa.ds_path"] is ReasonCode.DS_NOT_TRUSTED
    assert r.check("pa.sod_signature").outcome is Outcome.PASSED  # the signature itself is fine


def test_crl_missing(card2021):
    r = inspect(card2021.chip, can_key(card2021.can), card2021.pki.trust_store(with_crl=False))
    assert failed(r)["pa.ds_path"] is ReasonCode.CRL_UNAVAILABLE


def test_dg_hash_mismatch(card2021):
    def change(files):
        files["DG13"] = flip(files["DG13"], len(files["DG13"]) - 3)
    r = pki_case(card2021, card2021.pki, after_sign=change)
    f = failed(r)
    assert f["pa.dg_hash.DG13"] is ReasonCode.DG_HASH_MISMATCH
    assert "pa.dg_hash.DG1" not in f and "pa.sod_signature" not in f


def test_sod_signature_invalid(card2021):
    def change(files):
        files["EF.SOD"] = flip(files["EF.SOD"], len(files["EF.SOD"]) - 2)
    r = pki_case(card2021, card2021.pki, after_sign=change)
    assert failed(r)["pa.sod_signature"] is ReasonCode.SOD_SIGNATURE_INVALID


def test_unknown_algorithm_oid(card2021):
    ecdsa_sha256 = bytes.fromhex("2A8648CE3D040302")

    def change(files):
        sod = files["EF.SOD"]
        i = sod.rfind(ecdsa_sha256)               # the SignerInfo's, after the certificate's
        files["EF.SOD"] = sod[:i] + bytes.fromhex("2A8648CE3D04037F") + sod[i + 8:]
    r = pki_case(card2021, card2021.pki, after_sign=change)
    assert failed(r)["pa.sod_signature"] is ReasonCode.UNKNOWN_ALGORITHM


def test_com_sod_mismatch(card2021):
    def change(files):
        com = files["EF.COM"]
        i = com.index(b"\x5c")
        tags = com[i + 2: i + 2 + com[i + 1]].replace(b"\x6d", b"")
        files["EF.COM"] = encode_tlv(0x60, com[2:i] + encode_tlv(0x5C, tags))
    r = pki_case(card2021, card2021.pki, after_sign=change)
    assert failed(r)["pa.com_sod"] is ReasonCode.COM_SOD_MISMATCH


def test_dg1_does_not_match_access_key(card2021):
    # another holder's DG1, correctly signed, on a chip opened with this card's CAN
    r = pki_case(card2021, card2021.pki, mrz=SPECIMEN_MRZ_2)
    assert failed(r)["pa.dg1_access_key"] is ReasonCode.MRZ_MISMATCH


def test_sha1_sod_is_legacy(card2021):
    r = pki_case(card2021, card2021.pki, sod_hash="sha1")
    assert failed(r)["pa.sod_signature"] is ReasonCode.LEGACY_ALGORITHM
    chip, _ = resign(card2021, card2021.pki, sod_hash="sha1")
    r = inspect(chip, can_key(card2021.can), card2021.pki.trust_store(), policy=ReadPolicy(allow_sha1=True))
    assert r.check("pa.legacy_algorithm").reason is ReasonCode.LEGACY_ALGORITHM
    assert "pa.sod_signature" not in failed(r)


# -- malformed files: TLV and ASN.1 in every file --------------------------------------------------------

MALFORMED = {
    # outer TLV announces more than the file holds: the reader itself refuses it
    "truncated": lambda name, data: data[:2] + data[2:-5] if len(data) < 128 else data[:-5],
    # outer TLV fine, content garbage: the parsers refuse it
    "garbage": lambda name, data: encode_tlv(data[0], b"\x30\x03\x02\x01"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("name", ["EF.COM", "EF.SOD", "DG1", "DG2", "DG13", "DG14", "DG15"])
def test_malformed_file(card2021, name, kind):
    data = card2021.files[name]
    chip = with_files(card2021, {name: MALFORMED[kind](name, data)})
    r = inspect(chip, can_key(card2021.can), card2021.pki.trust_store())
    assert r.verdict is Outcome.FAILED
    reasons = set(failed(r).values())
    assert ReasonCode.MALFORMED_FILE in reasons, failed(r)
    assert ReasonCode.INTERNAL_ERROR not in reasons


def test_malformed_card_access(card2021):
    chip = with_files(card2021, {"EF.CardAccess": b"\x31\x05\x30\x03\x06\x01"})
    r = inspect(chip, can_key(card2021.can), card2021.pki.trust_store())
    assert failed(r)["access"] in (ReasonCode.MALFORMED_FILE, ReasonCode.PACE_REQUIRED)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["EF.COM", "EF.SOD", "DG1", "DG13", "DG14", "DG15"]),
       pos=st.integers(min_value=0, max_value=10_000), value=st.integers(min_value=1, max_value=255),
       cut=st.integers(min_value=0, max_value=40))
def test_fuzz_mutated_files(card2021, name, pos, value, cut):
    data = bytearray(card2021.files[name])
    data[pos % len(data)] ^= value
    mutated = bytes(data[: max(1, len(data) - cut)])
    chip = with_files(card2021, {name: mutated})
    r = inspect(chip, can_key(card2021.can), card2021.pki.trust_store(),
                policy=ReadPolicy(read_portrait=False))
    if r.verdict is not Outcome.FAILED:
        # only bytes nobody signs may change unnoticed: EF.COM outside its tag list (9303-10 §4.6.1 is not
        # covered by the SOD), and SignedData fields outside the signature (digestAlgorithms, versions)
        assert _same_signed_content(name, card2021.files[name], mutated), name
    assert ReasonCode.INTERNAL_ERROR not in r.reasons
    json.loads(r.to_json(include_evidence=True))


def _same_signed_content(name, original, mutated):
    from icao9303.lds.com import EFCOM
    from icao9303.lds.sod import SOD

    if name == "EF.COM":
        return EFCOM.from_bytes(mutated).tag_list == EFCOM.from_bytes(original).tag_list
    if name == "EF.SOD":
        a, b = SOD.from_bytes(original), SOD.from_bytes(mutated)
        return (a.econtent_bytes == b.econtent_bytes and a.signed_attrs_bytes() == b.signed_attrs_bytes()
                and a.signature() == b.signature() and a.signer_certificate().dump() == b.signer_certificate().dump()
                and a.signature_algorithm().dump() == b.signature_algorithm().dump())
    return False


# -- the session: SM errors, card removal, resume ----------------------------------------------------------


class Fault:
    """Wraps a transport; at the n-th READ BINARY runs `action(transport, apdu)` instead of sending."""

    def __init__(self, inner, n, action):
        self.inner, self.n, self.action, self.reads = inner, n, action, 0

    def transmit(self, apdu):
        if apdu[1] in (0xB0, 0xB1) and apdu[0] & 0x0C:
            self.reads += 1
            if self.reads == self.n:
                return self.action(self.inner, apdu)
        return self.inner.transmit(apdu)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_sm_mac_error_mid_read(card2021):
    def corrupt(inner, apdu):
        resp = bytearray(inner.transmit(apdu))
        resp[-4] ^= 0x80                           # inside DO 8E
        return bytes(resp)
    t = Fault(InProcessTransport(card2021.chip), 20, corrupt)
    r = inspect_card(t, can_key(card2021.can), card2021.pki.trust_store(), at=NOW, memory=ReadSizeMemory())
    assert r.verdict is Outcome.FAILED and failed(r)["read"] is ReasonCode.SM_ERROR


def test_card_removed_mid_read(card2021):
    def remove(inner, apdu):
        inner.remove()
        return inner.transmit(apdu)
    inner = InProcessTransport(card2021.chip)
    r = inspect_card(Fault(inner, 20, remove), can_key(card2021.can), card2021.pki.trust_store(), at=NOW,
                     memory=ReadSizeMemory())
    inner.insert()
    assert r.verdict is Outcome.FAILED and failed(r)["read"] is ReasonCode.CARD_REMOVED
    assert r.evidence is not None and "EF.COM" in r.evidence.files    # what was read is kept


def test_card_removed_and_tapped_again_resumes(card2021):
    """The most common field failure (LESSONS.md): the card leaves the field mid-DG2 and comes back;
    the reader reconnects, opens the chip again and resumes DG2 from the last offset."""
    class Retap(InProcessTransport):
        def reconnect(self):
            self.insert()
            return self.reset()

    def remove(inner, apdu):
        inner.remove()
        return inner.transmit(apdu)

    inner = Retap(card2021.chip)
    trace = ApduTrace()
    r = inspect_card(Fault(inner, 60, remove), can_key(card2021.can), card2021.pki.trust_store(), at=NOW,
                     memory=ReadSizeMemory(), trace=trace)
    assert r.verdict is Outcome.PASSED and r.apdu.resumes == 1
    reads = [e for e in trace.entries if e.command.startswith("0cb0")]
    assert len(reads) < 130     # no restart of DG2 from offset 0 (~95 reads of 223 bytes for 20 KB)


def test_resume_after_transient_error(card2021):
    def drop(inner, apdu):
        inner.card.power_off()                     # the chip loses its session too
        raise TransientTransportError("link lost", step="transmit")
    r = inspect_card(Fault(InProcessTransport(card2021.chip), 30, drop), can_key(card2021.can),
                     card2021.pki.trust_store(), at=NOW, memory=ReadSizeMemory())
    assert r.apdu.resumes == 1
    assert_pa_passed(r)
    assert r.check("read") is None


# -- evidence and offline re-verification ---------------------------------------------------------------


def test_evidence_roundtrip_and_trace_redaction(card2021):
    trace = ApduTrace()
    r = inspect(card2021.chip, can_key(card2021.can), card2021.pki.trust_store(), trace=trace)
    text = r.evidence.to_json()
    b = EvidenceBundle.from_json(text)
    assert b.files == r.evidence.files and b.access == r.evidence.access
    again = reverify(b, card2021.pki.trust_store(), at=NOW)
    assert again.offline
    for cid in PA_IDS:
        assert again.check(cid).outcome is Outcome.PASSED
    dumped = json.dumps(trace.to_dict())
    assert card2021.can not in dumped.replace(card2021.can + "0", "")  # CAN never in the trace
    ga = [e for e in trace.entries if e.command[2:4] == "86"]
    assert ga and all(e.redacted for e in ga)


def test_reverify_in_another_process(card2021, tmp_path):
    r = inspect(card2021.chip, can_key(card2021.can), card2021.pki.trust_store())
    (tmp_path / "e.json").write_text(r.evidence.to_json())
    (tmp_path / "csca.der").write_bytes(card2021.pki.csca.dump())
    (tmp_path / "crl.der").write_bytes(card2021.pki.crl.dump())
    code = f"""
import sys, json
from datetime import datetime
from pki.truststore import TrustStore
from reader import reverify
ts = TrustStore()
ts.add_csca(open(r"{tmp_path}/csca.der", "rb").read())
ts.add_crl(open(r"{tmp_path}/crl.der", "rb").read())
rep = reverify(open(r"{tmp_path}/e.json").read(), ts, datetime.fromisoformat("{NOW.isoformat()}"))
print(json.dumps([[c.id, c.outcome.value, c.reason.value] for c in rep.checks]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    checks = {c[0]: c for c in json.loads(out.stdout)}
    for cid in PA_IDS:
        assert checks[cid][1] == "passed"


def test_reverify_detects_tampering(card2021):
    r = inspect(card2021.chip, can_key(card2021.can), card2021.pki.trust_store())
    d = r.evidence.to_dict()
    import base64
    dg1 = bytearray(base64.b64decode(d["files"]["DG1"]))
    dg1[-3] ^= 1
    d["files"]["DG1"] = base64.b64encode(bytes(dg1)).decode()
    rep = reverify(json.dumps(d), card2021.pki.trust_store(), NOW)
    assert {c.id: c.reason for c in rep.checks if c.outcome is Outcome.FAILED}["pa.dg_hash.DG1"] \
        is ReasonCode.DG_HASH_MISMATCH
    for bad in ("{", json.dumps({"format": "x"}), json.dumps({**d, "files": {"DG1": "%%%"}}), b"\xff"):
        rep = reverify(bad, card2021.pki.trust_store(), NOW)
        assert rep.verdict is Outcome.FAILED and rep.reason is ReasonCode.EVIDENCE_INVALID


def test_reverify_aa_challenge_mismatch(card2021):
    r = inspect(card2021.chip, can_key(card2021.can), card2021.pki.trust_store(), aa_challenge=b"\x01" * 8)
    rep = reverify(r.evidence, card2021.pki.trust_store(), NOW, expected_aa_challenge=b"\x02" * 8)
    assert {c.id: c.reason for c in rep.checks}["aa"] is ReasonCode.AA_CHALLENGE_MISMATCH


def test_report_json_is_stable(card2021):
    r = inspect(card2021.chip, can_key(card2021.can), card2021.pki.trust_store())
    d = json.loads(r.to_json())
    assert d["format"] == "cancuoc-verification-report/1"
    assert set(d) >= {"verdict", "reason", "checks", "document", "timings", "apdu", "access"}
    assert all(set(c) == {"id", "outcome", "reason", "detail"} for c in d["checks"])
    assert d["document"]["mrz_fields"]["personal_id"] == "079090012345"


# -- step-down through secure messaging on the real chip ----------------------------------------------------


@pytest.mark.parametrize("initial,extended", [(256, False), (65536, True)])
def test_step_down_under_sm_keeps_ssc_in_step(legacy, initial, extended):
    """legacy-bac: 6700 beyond 223 bytes. A short Le of 256 gets a *protected* 6700 (SM goes on); an
    extended Le gets an *unprotected* 6700 and the chip aborts SM (9303-11 §9.8.5): the reader reopens
    the session and resumes — in both cases without a MAC error."""
    from reader.access import open_session
    from reader.reading import FILES, FileReader

    t = InProcessTransport(legacy.chip)
    key = mrz_key_from_text(legacy.mrz)
    memory = ReadSizeMemory()
    session = open_session(t, key, memory=memory)

    def reopen():
        return open_session(t, key, memory=memory).transport

    reader = FileReader(session.transport, initial_size=initial, extended=extended, memory=memory,
                        chip_key="legacy", reopen=reopen)
    assert reader.read(FILES["DG2"]) == legacy.files["DG2"]
    assert reader.read(FILES["DG1"]) == legacy.files["DG1"]   # the session is still in step
    assert reader.size <= 223 and reader.stats.step_downs >= 1
    assert (reader.stats.resumes >= 1) == extended
    assert memory.get("legacy") == reader.size


def test_card_security_signature_invalid(card2024):
    def change(files):
        files["EF.CardSecurity"] = flip(files["EF.CardSecurity"], len(files["EF.CardSecurity"]) - 2)
    chip, _ = resign(card2024, card2024.pki, after_sign=change)
    r = inspect(chip, can_key(card2024.can), card2024.pki.trust_store())
    f = failed(r)
    assert f["pa.card_security"] is ReasonCode.SOD_SIGNATURE_INVALID
    assert f["ca"] is ReasonCode.CAM_FAILED


class RejectsParameterId:
    """A chip that answers 6A80 to MSE:Set AT carrying the domain parameter id (tag 84) — LESSONS.md."""

    def __init__(self, chip):
        self.chip, self.mse = chip, []

    def __getattr__(self, name):
        return getattr(self.chip, name)

    def process_apdu(self, apdu):
        if apdu[1] == 0x22 and apdu[2:4] == b"\xc1\xa4":
            self.mse.append(apdu)
            if b"\x84\x01" in apdu[5:]:
                return b"\x6a\x80"
        return self.chip.process_apdu(apdu)


def test_mse_retried_without_parameter_id(card2021):
    chip = RejectsParameterId(card2021.chip)
    trace = ApduTrace(redact=False)
    r = inspect(chip, can_key(card2021.can), card2021.pki.trust_store(), trace=trace)
    assert r.verdict is Outcome.PASSED
    assert len(chip.mse) == 2 and b"\x84\x01" in chip.mse[0][5:] and b"\x84\x01" not in chip.mse[1][5:]
    # no Le on plain SELECT and MSE (LESSONS.md): the command ends with its data field
    for e in trace.entries:
        cmd = bytes.fromhex(e.command)
        if cmd[1] in (0xA4, 0x22) and not cmd[0] & 0x0C:
            assert len(cmd) == 5 + cmd[4], e.command


def test_cli_qr_image_in_process(card2021, tmp_path, capsys):
    """`cancuoc read --card-state FILE --qr IMAGE`: the access key comes from the card's QR (G's capture)."""
    import copy

    import segno

    from cancuoc.cli import main
    from pki.truststore import TrustStore

    state = copy.deepcopy(card2021.state)
    state.save(tmp_path / "card.json")
    payload = "079090012345|123456789|Nguyễn Văn An|15031990|Nam|Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội|15032021"
    segno.make(payload, encoding="utf-8", error="m").save(tmp_path / "qr.png", scale=6)
    ts = TrustStore(tmp_path / "ts")
    ts.add_csca(card2021.pki.csca)
    ts.add_crl(card2021.pki.crl)
    code = main(["read", "--card-state", str(tmp_path / "card.json"), "--qr", str(tmp_path / "qr.png"),
                 "--trust-store", str(tmp_path / "ts"), "--at", NOW.isoformat(), "--skip-portrait", "--json",
                 "--trace", str(tmp_path / "trace.json")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["verdict"] == "passed" and out["access"]["password_type"] == "CAN"
    trace = (tmp_path / "trace.json").read_text()
    assert json.loads(trace)["redacted"] is True and "<redacted>" in trace
    assert main(["read", "--card-state", str(tmp_path / "card.json"), "--qr", str(tmp_path / "nothing.png"),
                 "--trust-store", str(tmp_path / "ts")]) == 2


def test_stale_crl_is_a_warning(card2021):
    """A CRL past its nextUpdate: accepted by pki's default policy, reported as a WARNING verdict."""
    r = inspect_card(InProcessTransport(card2021.chip), can_key(card2021.can), card2021.pki.trust_store(),
                     at=NOW + timedelta(days=120), memory=ReadSizeMemory())
    warnings = [c for c in r.checks if c.outcome is Outcome.WARNING]
    assert warnings and warnings[0].reason is ReasonCode.CRL_UNAVAILABLE
    assert r.verdict is Outcome.WARNING and r.reason is ReasonCode.CRL_UNAVAILABLE


def test_odd_ins_past_32k_under_sm():
    """A 40 KB DG2 on the 2024 chip read in 4 KB steps: offsets past 32767 go with odd INS B1 (DO 54 /
    DO 53) through secure messaging (DO 85)."""
    from reader.access import open_session
    from reader.reading import FILES, FileReader

    card = personalize("vn-cc-2024", dg2_size=40_000)
    assert len(card.files["DG2"]) > 0x8000
    t = InProcessTransport(card.chip)
    session = open_session(t, can_key(card.can))
    reader = FileReader(session.transport, initial_size=4096, extended=True, memory=ReadSizeMemory())
    assert reader.read(FILES["DG2"]) == card.files["DG2"]
    assert reader.stats.odd_ins_reads >= 1
    r = inspect(card.chip, can_key(card.can), card.pki.trust_store())
    assert r.verdict is Outcome.PASSED


@pytest.fixture(scope="module")
def good_evidence(card2021):
    r = inspect(card2021.chip, can_key(card2021.can), card2021.pki.trust_store())
    return r.evidence.to_dict()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                           max_leaves=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["format", "read_at", "files", "unreadable", "access", "access_key_digest", "aa",
                            "chip_authentication", "certificates", "session_checks", "atr"]),
       value=json_values)
def test_fuzz_evidence_bundle(card2021, good_evidence, key, value):
    """Hostile bundles (the station API's HTTP input): never an exception, never a PASS."""
    d = dict(good_evidence)
    d[key] = value
    challenge = bytes.fromhex(good_evidence["aa"]["challenge"])   # as the server chose it
    rep = reverify(json.dumps(d), card2021.pki.trust_store(), NOW, expected_aa_challenge=challenge)
    # only fields that carry no proof to a server may change without failing the verdict (the CA record
    # is a counter's report, AA on the server's challenge is the proof — reader.verify's docstring)
    assert rep.verdict is not Outcome.PASSED or key in ("atr", "certificates", "session_checks",
                                                        "chip_authentication")
    assert ReasonCode.INTERNAL_ERROR not in rep.reasons


def test_chip_authentication_by_key_id(card2024):
    """The 2024 chip opened with PACE-GM: Chip Authentication with the DG14 key of keyId 1 (sent in MSE)."""
    r = inspect(card2024.chip, can_key(card2024.can), card2024.pki.trust_store(),
                policy=ReadPolicy(pace_mappings=("GM",)))
    assert r.access.mapping == "GM" and r.chip_authentication == "CA"
    assert r.evidence.chip_authentication["key_id"] == 1
    assert r.verdict is Outcome.PASSED


def test_ds_path_through_link_certificate(card2021):
    """After a CSCA rollover a verifier that trusts only the old CSCA follows the link certificate."""
    new = TestPKI(link_from=card2021.pki, csca_not_after=NOW + timedelta(days=4000))
    chip, _ = resign(card2021, new)
    r = inspect(chip, can_key(card2021.can), new.trust_store())
    assert r.check("pa.ds_path").outcome is Outcome.PASSED, failed(r)
    assert len(r.evidence.certificates) == 3          # DS, link, CSCA
    r = inspect(chip, can_key(card2021.can), card2021.pki.trust_store())   # old CSCA, no link
    assert failed(r)["pa.ds_path"] is ReasonCode.DS_NOT_TRUSTED


def test_choose_pace_info():
    from icao9303.lds.security_infos import PACEInfo
    from reader.access import choose_pace_info

    def info(oid, pid=13):
        return PACEInfo({"protocol": oid, "version": 2, "parameter_id": pid})

    dh_gm = info("0.4.0.127.0.7.2.2.4.1.2", 0)
    ecdh_gm = info("0.4.0.127.0.7.2.2.4.2.2")
    ecdh_gm_256 = info("0.4.0.127.0.7.2.2.4.2.4")
    ecdh_im = info("0.4.0.127.0.7.2.2.4.4.2")
    cam = info("0.4.0.127.0.7.2.2.4.6.2")
    unknown = info("0.4.0.127.0.7.2.2.4.9.9")
    assert choose_pace_info([dh_gm, ecdh_im, ecdh_gm, cam]) is cam
    assert choose_pace_info([dh_gm, ecdh_gm, ecdh_gm_256]) is ecdh_gm_256     # ECDH, strongest cipher
    assert choose_pace_info([dh_gm, ecdh_im]) is dh_gm                         # GM before IM
    assert choose_pace_info([ecdh_im], ("GM",)) is None
    assert choose_pace_info([unknown]) is None


def test_chip_left_in_application_is_reset_first(card2021):
    """LESSONS.md: a chip left selected in the eMRTD application answers 6A82 to EF.CardAccess; the
    reader resets (and selects the MF) before reading it."""
    chip = card2021.chip
    chip.power_on()
    assert chip.process_apdu(bytes.fromhex("00A4040C07A0000002471001")) == b"\x90\x00"
    assert chip.process_apdu(bytes.fromhex("00A4020C02011C"))[-2:] == b"\x6a\x82"   # the trap
    trace = ApduTrace(redact=False)
    r = inspect(chip, can_key(card2021.can), card2021.pki.trust_store(), trace=trace)
    assert r.access.method == "PACE" and r.verdict is Outcome.PASSED
    assert trace.entries[0].command.upper().startswith("00A4000C023F00")


def test_no_personal_data_in_reprs(card2021):
    r = inspect(card2021.chip, can_key(card2021.can), card2021.pki.trust_store())
    for obj in (r, r.evidence, r.document, can_key(card2021.can), mrz_key_from_text(card2021.mrz)):
        text = repr(obj)
        assert "079090012345" not in text and card2021.can not in text and "NGUYEN" not in text


@pytest.mark.parametrize("profile,le", [("legacy-bac", 128), ("vn-cccd-2021", 73)])
def test_aa_le_from_key_size(profile, le, card2021, legacy):
    """LESSONS.md: Le of INTERNAL AUTHENTICATE from the DG15 key (RSA-1024: 128; ECDSA P-256-size: 73),
    short whenever it fits — checked on the plain command before SM wrapping."""
    from reader.chipauth import aa_le
    from reader.lds_view import dg15_public_key_info

    card = {"legacy-bac": legacy, "vn-cccd-2021": card2021}[profile]
    assert aa_le(dg15_public_key_info(card.files["DG15"])) == le
    seen = []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def transmit(self, apdu):
            if apdu[1] == 0x88:
                seen.append(apdu)
            return self.inner.transmit(apdu)

    from reader.access import open_session
    from reader.chipauth import perform_aa
    session = open_session(InProcessTransport(card.chip),
                           can_key(card.can) if card.profile.pace else mrz_key_from_text(card.mrz))
    _, signature = perform_aa(Spy(session.transport), dg15_public_key_info(card.files["DG15"]),
                              b"\x11" * 8)
    assert seen[0] == bytes.fromhex("0088000008") + b"\x11" * 8 + bytes([le]) and signature


@pytest.mark.parametrize("mapping,param_id,in_mse", [("IM", 12, "rejected"), ("GM", 16, "required"),
                                                     ("IM", 13, "optional")])
def test_pace_variants(monkeypatch, mapping, param_id, in_mse):
    """PACE-IM and other domain parameters, and chips that reject or require the parameter id in
    MSE:Set AT: a firmware profile variant (profiles are data) run by the same virtual chip."""
    import dataclasses

    import firmware_profiles
    import firmware_profiles.state
    from firmware_profiles.profile import load_profile as real_load

    base = real_load("vn-cccd-2021")
    variant = dataclasses.replace(base, name="test-pace", pace=dataclasses.replace(
        base.pace, mappings=(mapping,), parameter_ids=(param_id,), parameter_id_in_mse=in_mse))

    def load(name):
        return variant if name == "test-pace" else real_load(name)

    monkeypatch.setattr(firmware_profiles, "load_profile", load)
    monkeypatch.setattr(firmware_profiles.state, "load_profile", load)
    card = personalize("test-pace", dg2_size=2000)
    r = inspect(card.chip, can_key(card.can), card.pki.trust_store())
    assert r.access.mapping == mapping and r.access.parameter_id == param_id
    assert r.verdict is Outcome.PASSED, failed(r)


def test_unknown_dg_hash_algorithm_oid(card2021):
    """The LDSSecurityObject's hashAlgorithm is an OID nobody knows: UNKNOWN_ALGORITHM, not a crash."""
    from icao9303.lds.sod import SOD

    sha256 = bytes.fromhex("0609608648016503040201")

    def change(files):
        sod = files["EF.SOD"]
        j = sod.index(sha256, sod.index(SOD.from_bytes(sod).econtent_bytes))   # inside the eContent
        files["EF.SOD"] = sod[:j] + bytes.fromhex("06096086480165030402FF") + sod[j + 11:]
    r = pki_case(card2021, card2021.pki, after_sign=change)
    assert failed(r)["pa.sod_signature"] is ReasonCode.UNKNOWN_ALGORITHM


def test_2024_card_policy_requires_pace(card2024):
    """Without an explicit policy the 2024 card's own applies (PACE required): a chip whose EF.CardAccess
    is broken is not silently opened with BAC; an explicit generic policy falls back to BAC."""
    chip = with_files(card2024, {"EF.CardAccess": b"\x31\x05\x30\x03\x06\x01\x00"})
    key = mrz_key_from_text(card2024.mrz)
    r = inspect(chip, key, card2024.pki.trust_store())
    assert failed(r)["access"] in (ReasonCode.MALFORMED_FILE, ReasonCode.PACE_REQUIRED)
    r = inspect(chip, key, card2024.pki.trust_store(), policy=ReadPolicy())
    assert r.access.method == "BAC"
    assert r.check("pa.sod_signature").outcome is Outcome.PASSED


def test_cli_mrz_image_in_process(card2021, tmp_path, capsys):
    """`cancuoc read --mrz-image`: the MRZ is read by OCR from a rendered card back (G's capture and card
    face renderer), and the chip is opened with the MRZ key."""
    import copy
    import datetime as dt

    from cancuoc.cli import main
    from issuance.card_face import CardFaceData, render_back
    from pki.truststore import TrustStore
    from reader.capture.qr_payload import QRGeneration

    face = CardFaceData.build(QRGeneration.CCCD_2021, personal_id="079090012345", full_name="Nguyễn Văn An",
                              date_of_birth=dt.date(1990, 3, 15), sex="M", date_of_issue=dt.date(2021, 3, 15),
                              place_of_residence="Hà Nội")
    assert "".join(face.mrz) == card2021.mrz
    render_back(face, dpi=300).save(tmp_path / "back.png")
    copy.deepcopy(card2021.state).save(tmp_path / "card.json")
    ts = TrustStore(tmp_path / "ts")
    ts.add_csca(card2021.pki.csca)
    ts.add_crl(card2021.pki.crl)
    code = main(["read", "--card-state", str(tmp_path / "card.json"), "--mrz-image", str(tmp_path / "back.png"),
                 "--trust-store", str(tmp_path / "ts"), "--at", NOW.isoformat(), "--skip-portrait", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["verdict"] == "passed" and out["access"]["password_type"] == "MRZ"


def test_csca_revoked(card2021):
    """The new CSCA's link certificate revoked on the old CSCA's CRL (a compromised CSCA key)."""
    new = TestPKI(link_from=card2021.pki, revoke_link=True)
    chip, _ = resign(card2021, new)
    r = inspect(chip, can_key(card2021.can), new.trust_store())
    assert failed(r)["pa.ds_path"] is ReasonCode.CSCA_REVOKED


@pytest.mark.parametrize("content", [b"\x30\x03\x02\x01", b"\x30\x80", b"\x31\x00"])
def test_malformed_card_security(card2024, content):
    chip = with_files(card2024, {"EF.CardSecurity": content})
    r = inspect(chip, can_key(card2024.can), card2024.pki.trust_store())
    assert r.verdict is Outcome.FAILED
    assert ReasonCode.MALFORMED_FILE in set(failed(r).values()), failed(r)


def test_correct_le_step_down_under_sm(monkeypatch):
    """A chip answering 6Cxx (wrong Le, xx = what it accepts) to an oversize READ BINARY, through SM:
    the reader asks for xx next, and the SM counter stays in step (a firmware profile variant)."""
    import dataclasses

    import firmware_profiles
    import firmware_profiles.state
    from firmware_profiles.profile import load_profile as real_load
    from reader.access import open_session
    from reader.reading import FILES, FileReader

    base = real_load("legacy-bac")
    variant = dataclasses.replace(base, name="test-6cxx", apdu=dataclasses.replace(
        base.apdu, oversize_read="correct_le", max_read_binary=200))

    def load(name):
        return variant if name == "test-6cxx" else real_load(name)

    monkeypatch.setattr(firmware_profiles, "load_profile", load)
    monkeypatch.setattr(firmware_profiles.state, "load_profile", load)
    card = personalize("test-6cxx", dg2_size=3000)
    session = open_session(InProcessTransport(card.chip), mrz_key_from_text(card.mrz))
    reader = FileReader(session.transport, initial_size=256, memory=ReadSizeMemory())
    assert reader.read(FILES["DG2"]) == card.files["DG2"]
    assert reader.size == 200 and reader.stats.step_downs == 1
    assert reader.read(FILES["DG1"]) == card.files["DG1"]


@pytest.mark.parametrize("option", ["--trace", "--save-evidence", "--portrait"])
def test_cli_unwritable_output_is_a_usage_error(card2021, tmp_path, capsys, option):
    import copy

    from cancuoc.cli import main

    copy.deepcopy(card2021.state).save(tmp_path / "card.json")
    rc = main(["read", "--card-state", str(tmp_path / "card.json"), "--can", card2021.can,
               "--trust-store", str(tmp_path / "ts"), option, str(tmp_path / "no" / "such" / "file")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_cli_garbage_card_state(tmp_path, capsys):
    from cancuoc.cli import main

    (tmp_path / "state.json").write_bytes(b"garbage\n")
    rc = main(["read", "--card-state", str(tmp_path / "state.json"), "--can", "123456", "--json",
               "--trust-store", str(tmp_path / "ts")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and out["verdict"] == "failed" and out["reason"] == "state.invalid"
