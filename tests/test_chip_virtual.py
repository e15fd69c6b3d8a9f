"""The virtual chip in-process: personalization dialect, BAC/PACE read-back, access rules, status words,
lifecycle, throttling, persistence and the timing model."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key

from firmware_profiles import CardState, LifeCycle, PersonalizationError, load_profile, new_blank_card
from firmware_profiles.chip import ChipTransport, VirtualChip
from firmware_profiles.dialect import PersonalizationSession
from firmware_profiles.security_infos import card_access_bytes, pace_oids
from icao9303.apdu import CommandAPDU
from icao9303.crypto import CANKey, MRZKey
from icao9303.lds.security_infos import CardAccess
from tests.test_chip_helpers import (
    CAN,
    CONTENT,
    MRZ_KEY,
    SERIAL,
    TK,
    dg2_content,
    open_bac,
    open_pace,
    personalize,
    read_file,
    tx,
)

ALL = ["vn-cccd-2021", "vn-cc-2024", "legacy-bac"]
AID = "A0000002471001"


@pytest.fixture(scope="module")
def cards():
    """One locked card per profile (personalized once: RSA key generation is slow)."""
    return {name: personalize(name, dg2_size=40000 if name == "vn-cc-2024" else 3000) for name in ALL}


@pytest.mark.parametrize("name", ALL)
def test_personalized_card_reads_back_with_bac(cards, name):
    chip, state, keys = cards[name]
    assert state.lifecycle is LifeCycle.LOCKED and state.transport_key is None
    profile = load_profile(name)
    t = ChipTransport(chip)
    t.reset()
    sm = open_bac(t)
    assert read_file(sm, 0x0101) == CONTENT["DG1"]
    assert read_file(sm, 0x011E) == CONTENT["EF.COM"]
    size = 40000 if name == "vn-cc-2024" else 3000
    assert read_file(sm, 0x0102, chunk=profile.apdu.max_read_binary if profile.apdu.max_read_binary < 256
                     else 255) == dg2_content(size)
    for purpose, spki in keys.items():
        load_der_public_key(spki)  # only the public key left the chip
        assert purpose in profile.personalization.key_references


@pytest.mark.parametrize(("name", "oid_index", "password"), [
    ("vn-cccd-2021", 0, CANKey(CAN)), ("vn-cccd-2021", 0, MRZ_KEY),
    ("vn-cc-2024", 0, CANKey(CAN)), ("vn-cc-2024", 1, MRZ_KEY),
])
def test_personalized_card_reads_back_with_pace(cards, name, oid_index, password):
    chip, _state, keys = cards[name]
    profile = load_profile(name)
    t = ChipTransport(chip)
    t.reset()
    # EF.CardAccess is readable without access control, under the MF (reset leaves the MF selected)
    assert CardAccess.from_bytes(read_file(t, 0x011C)).to_bytes() == card_access_bytes(profile)
    oid = pace_oids(profile)[oid_index]
    sm, result = open_pace(t, oid, password)
    assert read_file(sm, 0x0101) == CONTENT["DG1"]
    if oid.startswith("0.4.0.127.0.7.2.2.4.6."):  # PACE-CAM: the chip proved its CA key
        from asn1crypto import keys as asn1keys

        from icao9303.crypto.pace import verify_pace_cam

        point = asn1keys.PublicKeyInfo.load(keys["CA"])["public_key"].native
        verify_pace_cam(result, point)


def test_wrong_pace_password_fails_6300_and_counts(tmp_path):
    personalize("vn-cccd-2021", path=tmp_path / "c.json")
    chip = VirtualChip(CardState.load(tmp_path / "c.json"))
    t = ChipTransport(chip)
    with pytest.raises(AssertionError, match="6300"):
        open_pace(t, pace_oids(chip.profile)[0], CANKey("999999"))
    assert CardState.load(tmp_path / "c.json").auth_failures == 1
    open_pace(t, pace_oids(chip.profile)[0], CANKey(CAN))
    assert CardState.load(tmp_path / "c.json").auth_failures == 0


def test_access_rules(cards):
    chip, _state, _ = cards["vn-cccd-2021"]
    t = ChipTransport(chip)
    t.reset()
    assert tx(t, "00A4040C07" + AID)[1] == 0x9000
    assert tx(t, "00A4020C020101")[1] == 0x9000          # selecting is allowed ...
    assert tx(t, "00B0000004")[1] == 0x6982              # ... reading a DG needs BAC/PACE SM
    assert tx(t, "00B0810004")[1] == 0x6982              # also by SFI
    assert tx(t, "00B0830004")[1] == 0x6982              # DG3 (EAC) by SFI
    assert tx(t, "0088000008" + "00" * 8 + "00")[1] == 0x6982   # no AA without SM
    sm = open_bac(t)
    assert tx(sm, "00B0830004")[1] == 0x6982             # DG3 refused without EAC, even under BAC
    assert tx(sm, "00B0810004") == (CONTENT["DG1"][:4], 0x9000)
    # no command reaches a private key or the access keys: only the personalization dialect writes them
    assert tx(sm, "00CA010100")[1] == 0x6A88             # GET DATA answers only 9F7F (the chip serial)
    assert tx(sm, "00D6000001FF")[1] == 0x6985           # locked: writes refused
    assert tx(sm, "0046000100")[1] == 0x6985


def test_sm_error_ends_session(cards):
    chip, _state, _ = cards["vn-cccd-2021"]
    t = ChipTransport(chip)
    t.reset()
    sm = open_bac(t)
    protected = bytearray(sm.sm.protect_command(bytes.fromhex("00B0810004")))
    protected[-3] ^= 0x01  # corrupt the MAC
    assert tx(t, bytes(protected)) == (b"", 0x6988)       # answered plain
    assert tx(t, "0CB081000D9701048E08000000000000000000")[1] == 0x6987  # SM APDU, no session
    assert tx(t, "00B0810004")[1] == 0x6982              # the access right is gone
    # a plain APDU during SM also ends the session
    sm = open_bac(t)
    assert tx(t, "00A4040C07" + AID)[1] == 0x9000
    assert tx(t, "00B0810004")[1] == 0x6982


def test_reset_drops_session_and_selection(cards):
    chip, _state, _ = cards["vn-cccd-2021"]
    t = ChipTransport(chip)
    sm = open_bac(t)
    assert tx(sm, "00A4020C020101")[1] == 0x9000
    t.reset()
    assert tx(t, sm.sm.protect_command(bytes.fromhex("00B0000004")))[1] == 0x6987
    assert tx(t, "00B0000004")[1] == 0x6986              # no current EF after reset
    # LESSONS "Reset": EF.CardAccess lives under the MF; with the application selected it is not found
    assert tx(t, "00A4040C07" + AID)[1] == 0x9000
    assert tx(t, "00A4020C02011C")[1] == 0x6A82
    assert tx(t, "00A4000C023F00")[1] == 0x9000
    assert tx(t, "00A4020C02011C")[1] == 0x9000


def test_read_binary_variants(cards):
    chip, _state, _ = cards["vn-cc-2024"]
    t = ChipTransport(chip)
    t.reset()
    sm = open_bac(t)
    dg2 = dg2_content(40000)
    # SFI + offset in P2
    assert tx(sm, "00B0820010") == (dg2[:16], 0x9000)
    # extended Le: 4000 bytes in one APDU
    data, sw = tx(sm, bytes.fromhex("00B0010000") + (4000).to_bytes(2, "big"))
    assert (data, sw) == (dg2[256:4256], 0x9000)
    # odd INS B1 beyond 32767: offset in DO'54', data in DO'53' (Ne counts the DO'53' header)
    data, sw = tx(sm, CommandAPDU(0, 0xB1, 0, 0, bytes.fromhex("540280E8"), 255).to_bytes())
    assert sw == 0x9000 and data[:3] == b"\x53\x81\xfc" and data[3:] == dg2[0x80E8 : 0x80E8 + 252]
    data, sw = tx(sm, CommandAPDU(0, 0xB1, 0, 0, bytes.fromhex("5403009C40"), 65536).to_bytes())
    assert sw == 0x6B00                                   # offset 40000 = end of file
    data, sw = tx(sm, CommandAPDU(0, 0xB1, 0, 0, bytes.fromhex("5403009C30"), 65536).to_bytes())
    assert (data, sw) == (b"\x53\x10" + dg2[-16:], 0x9000)
    # an explicit Le cut short by the end of file: 6282 with the data; Le 00 means "what there is": 9000
    assert tx(sm, "00B0815020") == (CONTENT["DG1"][80:], 0x6282)  # DG1 by SFI, offset 80 of 95
    assert tx(sm, "00B0005000") == (CONTENT["DG1"][80:], 0x9000)
    assert tx(sm, "00B09C0000")[1] == 0x6A82                       # P1 b8 = SFI 1C: not in the application
    assert tx(sm, "00B0820000")[1] == 0x9000
    assert tx(sm, bytes([0, 0xB0, 0x7F, 0xFF, 1])) == (dg2[0x7FFF:0x8000], 0x9000)
    assert tx(sm, "00B0816001")[1] == 0x6B00                       # DG1: offset 96 > size 95
    assert tx(sm, CommandAPDU(0, 0xB1, 0, 0, bytes.fromhex("5403010000"), 16).to_bytes())[1] == 0x6B00
    assert tx(sm, CommandAPDU(0, 0xB1, 0, 0, bytes.fromhex("5500"), 16).to_bytes())[1] == 0x6A80


def test_oversize_read_policies(cards):
    legacy, _, _ = cards["legacy-bac"]
    t = ChipTransport(legacy)
    t.reset()
    sm = open_bac(t)
    assert tx(sm, "00B0820000")[1] == 0x6700            # legacy: Le 00 (256) > 223 -> wrong length
    data, sw = tx(sm, "00B08200DF")
    assert sw == 0x9000 and len(data) == 223
    chip21, _, _ = cards["vn-cccd-2021"]
    t = ChipTransport(chip21)
    t.reset()
    sm = open_bac(t)
    data, sw = tx(sm, "00B0820000")                      # 2021: truncates to 223
    assert sw == 0x9000 and len(data) == 223
    assert tx(t, "00B0820000" + "0100")[1] == 0x6700    # short-only chip: an extended Le is refused
    assert tx(t, "00B0810004")[1] == 0x6982              # ... plain, and the SM session is gone


def test_status_words_for_bad_commands(cards):
    chip, _state, _ = cards["vn-cccd-2021"]
    t = ChipTransport(chip)
    t.reset()
    assert tx(t, "00")[1] == 0x6700
    assert tx(t, "80A4040C07" + AID)[1] == 0x6E00
    assert tx(t, "01A4040C07" + AID)[1] == 0x6881
    assert tx(t, "00FF000000")[1] == 0x6D00
    assert tx(t, "00A4040C07A0000002471002")[1] == 0x6A82
    assert tx(t, "00A4050C07" + AID)[1] == 0x6A86
    assert tx(t, "0084000004")[1] == 0x6700              # GET CHALLENGE needs Le 8
    assert tx(t, "0082000028" + "00" * 40)[1] == 0x6985  # EXTERNAL AUTHENTICATE without challenge
    assert tx(t, "0082000528" + "00" * 40)[1] == 0x6A88  # unknown key reference
    assert tx(t, "0022C1A40380" + "0100")[1] == 0x6A80   # MSE with a bad OID
    assert tx(t, "008600000000")[1] in (0x6985, 0x6700)
    assert tx(t, "10B0000004")[1] == 0x6884              # chaining only for GENERAL AUTHENTICATE
    assert tx(t, "0CB0000004")[1] == 0x6987              # SM without a session


def test_wrong_bac_key_counted_and_throttled(tmp_path):
    path = tmp_path / "card.json"
    personalize("legacy-bac", path=path)
    chip = VirtualChip.open(path)
    profile = chip.profile
    t = ChipTransport(chip)
    wrong = MRZKey(document_number="090012346", date_of_birth="900315", date_of_expiry="300315")
    from icao9303.errors import CardError

    for i in range(profile.throttle.max_failures_per_session):
        before = chip.chip_time_s
        with pytest.raises(CardError) as e:
            open_bac(t, wrong)
        assert e.value.sw == 0x6300
        assert CardState.load(path).auth_failures == i + 1      # persisted at once
        if i:
            assert chip.chip_time_s - before >= min(profile.throttle.base_delay_ms * 2 ** (i - 1),
                                                    profile.throttle.max_delay_ms) / 1000
    with pytest.raises(CardError) as e:
        open_bac(t, MRZ_KEY)
    assert e.value.sw == 0x6983                                  # blocked for this power session
    chip = VirtualChip.open(path)                                # card pulled and re-inserted
    t = ChipTransport(chip)
    sm = open_bac(t)                                             # slow, but the right key works
    assert tx(sm, "00B0810004")[1] == 0x9000
    assert CardState.load(path).auth_failures == 0


def test_blank_card_lifecycle(tmp_path):
    path = tmp_path / "blank.json"
    state = new_blank_card("vn-cccd-2021", SERIAL, TK, path=path)
    chip = VirtualChip(state)
    t = ChipTransport(chip)
    assert tx(t, "00A4040C07" + AID)[1] == 0x9000
    assert tx(t, "0084000008")[1] == 0x9000
    assert tx(t, "0082000028" + "00" * 40 + "28")[1] == 0x6A88   # BAC: no access keys yet
    assert tx(t, "00E000000A62088302010180020010")[1] == 0x6982  # no transport auth
    assert tx(t, "0022C1A40F800A04007F00070202040202830102")[1] == 0x6985    # no PACE on a blank card
    s = PersonalizationSession(t, "vn-cccd-2021")
    with pytest.raises(PersonalizationError) as e:
        s.write_file("DG1", b"x")
    assert e.value.reason == "perso.not_authenticated"
    with pytest.raises(PersonalizationError) as e:
        s.authenticate(bytes(16))
    assert e.value.sw == 0x6300 and CardState.load(path).transport_auth_failures == 1
    s.authenticate(TK)
    assert CardState.load(path).transport_auth_failures == 0
    s.write_file("DG1", CONTENT["DG1"])
    assert CardState.load(path).lifecycle is LifeCycle.PERSONALIZED
    with pytest.raises(PersonalizationError) as e:
        s.write_file("DG1", CONTENT["DG1"])                 # exists
    assert e.value.sw == 0x6A89
    with pytest.raises(PersonalizationError) as e:
        s.create_file("DG2", 40000)                         # larger than the profile allows
    assert e.value.reason == "perso.argument"
    with pytest.raises(PersonalizationError) as e:
        s.lock()                                             # incomplete: no EF.COM/SOD/keys
    assert e.value.sw == 0x6985
    # a pulled card keeps what was written and can be continued
    chip = VirtualChip.open(path)
    t = ChipTransport(chip)
    s = PersonalizationSession(t, "vn-cccd-2021")
    s.authenticate(TK)
    assert s.authenticated


def test_after_lock_no_write_ever_works(tmp_path):
    path = tmp_path / "card.json"
    personalize("vn-cccd-2021", path=path)
    chip = VirtualChip.open(path)
    t = ChipTransport(chip)
    s = PersonalizationSession(t, "vn-cccd-2021")
    with pytest.raises(PersonalizationError) as e:
        s.authenticate(TK)
    assert e.value.sw == 0x6985
    sm = open_bac(t)
    for apdu in ("00E000000A6208800200108302010F", "00D6000001FF", "0046000100",
                 "00DA01011A" + "41" * 26, "00440000"):
        assert tx(sm, apdu)[1] == 0x6985
    assert CardState.load(path).lifecycle is LifeCycle.LOCKED


def test_personalization_refusals_carry_sw():
    state = new_blank_card("legacy-bac", SERIAL, TK)
    t = ChipTransport(VirtualChip(state))
    s = PersonalizationSession(t, "legacy-bac")
    s.authenticate(TK)
    with pytest.raises(PersonalizationError) as e:
        s.set_access_keys("SHORT")
    assert e.value.sw == 0x6A80 and "SHORT" not in str(e.value)
    with pytest.raises(PersonalizationError) as e:
        s.generate_key_pair("CA")                            # legacy-bac has no CA
    assert e.value.reason == "perso.argument"


def test_persistence_survives_restart(tmp_path):
    path = tmp_path / "card.json"
    personalize("vn-cc-2024", path=path)
    chip = VirtualChip.open(path)
    sm, _ = open_pace(ChipTransport(chip), pace_oids(chip.profile)[0], CANKey(CAN))
    assert read_file(sm, 0x0101) == CONTENT["DG1"]


def test_timing_model_accumulates(cards):
    chip, _state, _ = cards["vn-cccd-2021"]
    t = ChipTransport(chip)
    t.reset()
    start = chip.chip_time_s
    sm = open_bac(t)
    after_bac = chip.chip_time_s
    assert after_bac - start >= chip.profile.timing.operations_ms["bac"] / 1000
    read_file(sm, 0x0102)
    assert chip.chip_time_s - after_bac > 14 * chip.profile.timing.apdu_overhead_us / 1e6
    assert chip.last_apdu_time_s > 0


@pytest.mark.parametrize("name", ["vn-cccd-2021", "vn-cc-2024"])
def test_chip_authentication_restarts_sm(cards, name):
    from icao9303.crypto.ca import perform_chip_authentication, select_chip_authentication
    from icao9303.lds.security_infos import DG14

    chip, _state, _keys = cards[name]
    t = ChipTransport(chip)
    t.reset()
    sm = open_bac(t)
    dg14 = DG14.from_bytes(read_file(sm, 0x010E))
    oid, key = select_chip_authentication(dg14.security_infos)
    old = sm.sm
    perform_chip_authentication(sm, oid, key)
    assert sm.sm is not old and sm.sm.ssc == 0 and sm.sm.cipher.name == "AES-128"  # new keys, SSC 0
    assert read_file(sm, 0x0101) == CONTENT["DG1"]       # reading continues under the CA keys
    # the old session keys no longer work: the chip answers 6988 plain and drops the session
    assert tx(t, old.protect_command(bytes.fromhex("00B0810004"))) == (b"", 0x6988)


def test_chip_authentication_refusals(cards):
    chip, _state, _keys = cards["vn-cccd-2021"]
    t = ChipTransport(chip)
    t.reset()
    assert tx(t, "002241A40C800A04007F00070202030202")[1] == 0x6982   # CA needs BAC/PACE first
    sm = open_bac(t)
    assert tx(sm, "002241A40C800A04007F00070202030204")[1] == 0x6A80  # not the profile's CA OID
    assert tx(sm, "0086000004 7C028000 00".replace(" ", ""))[1] == 0x6985     # GA without MSE
    assert tx(sm, "002241A40C800A04007F00070202030202")[1] == 0x9000
    assert tx(sm, "00860000047C02800100")[1] == 0x6A80                       # bad public key
    assert tx(sm, "00B0810004")[1] == 0x9000                                 # the BAC session is kept


def test_read_serial_for_transport_key_diversification():
    from firmware_profiles import diversify_transport_key
    from tests.test_chip_helpers import MASTER

    t = ChipTransport(VirtualChip(new_blank_card("vn-cc-2024", SERIAL, TK)))
    s = PersonalizationSession(t, "vn-cc-2024")
    serial = s.read_serial()
    assert serial == SERIAL
    s.authenticate(diversify_transport_key(MASTER, serial))
    assert s.authenticated


@pytest.mark.parametrize("name", ALL)
def test_active_authentication(cards, name):
    import os as _os

    from icao9303.crypto.aa import active_authentication_le, verify_active_authentication
    from icao9303.crypto.errors import AuthenticationError

    chip, _state, keys = cards[name]
    profile = load_profile(name)
    t = ChipTransport(chip)
    t.reset()
    sm = open_bac(t)
    challenge = _os.urandom(8)
    le = active_authentication_le(keys["AA"])
    sig, sw = tx(sm, CommandAPDU(0, 0x88, 0, 0, challenge, le).to_bytes())
    assert sw == 0x9000
    from firmware_profiles.security_infos import aa_signature_oid

    verify_active_authentication(keys["AA"], challenge, sig, signature_algorithm=aa_signature_oid(profile))
    with pytest.raises(AuthenticationError):
        verify_active_authentication(keys["AA"], bytes(8), sig, signature_algorithm=aa_signature_oid(profile))
    assert tx(sm, CommandAPDU(0, 0x88, 0, 0, challenge[:7], le).to_bytes())[1] == 0x6700
    assert tx(sm, CommandAPDU(0, 0x88, 0, 1, challenge, le).to_bytes())[1] == 0x6A86


def test_ef_atr_info_announces_extended_length(cards):
    from reader.reading import extended_length_from_atr_info

    chip, _state, _ = cards["vn-cc-2024"]
    t = ChipTransport(chip)
    t.reset()
    data, sw = tx(t, "00B0810000")                       # EF.ATR/INFO by SFI 01 under the MF, plain
    assert sw == 0x9000 and data == bytes.fromhex("7F6609020210000203010000")  # Nc 4096, Ne 65536
    assert extended_length_from_atr_info(data) == 65536
    assert tx(t, "00A4020C022F01")[1] == 0x9000
    chip21, _state, _ = cards["vn-cccd-2021"]          # short-only chips have no EF.ATR/INFO
    t = ChipTransport(chip21)
    t.reset()
    assert tx(t, "00A4020C022F01")[1] == 0x6A82


def _variant(name: str, **changes) -> object:
    """A profile variant (a product quirk no shipped profile has), validated like a shipped one."""
    import json as _json
    from importlib import resources

    from firmware_profiles import parse_profile

    raw = _json.loads(resources.files("firmware_profiles.profiles").joinpath(f"{name}.json").read_text())
    for path, value in changes.items():
        node = raw
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return parse_profile(raw, source="variant")


def test_profile_quirks_le_correction_parameter_id_and_le_on_select(cards):
    _chip, state, _ = cards["vn-cccd-2021"]
    quirky = _variant("vn-cccd-2021", apdu__oversize_read="correct_le", apdu__max_read_binary=200,
                      apdu__le_without_response_data="reject", pace__parameter_id_in_mse="required")
    t = ChipTransport(VirtualChip(state, profile=quirky))
    assert tx(t, "00A4040C07" + AID + "00")[1] == 0x6700       # Le on SELECT without response data
    assert tx(t, "00A4040C07" + AID)[1] == 0x9000
    sm = open_bac(t)
    assert tx(sm, "00B0810000")[1] == 0x6CC8                   # 6Cxx: "ask for 200"
    assert len(tx(sm, "00B08100C8")[0]) == 95                  # DG1 is 95 bytes
    t.reset()
    oid = pace_oids(quirky)[0]
    assert oid == "0.4.0.127.0.7.2.2.4.2.2"
    assert tx(t, "0022C1A40F800A04007F00070202040202830102")[1] == 0x6A80   # parameter id required
    assert tx(t, "0022C1A412800A04007F0007020204020283010284010D" + "00")[1] == 0x6700  # Le on MSE
    assert tx(t, "0022C1A412800A04007F0007020204020283010284010D")[1] == 0x9000
    rejecting = _variant("vn-cccd-2021", pace__parameter_id_in_mse="rejected")
    t = ChipTransport(VirtualChip(state, profile=rejecting))
    assert tx(t, "0022C1A412800A04007F0007020204020283010284010D")[1] == 0x6A80
    assert tx(t, "0022C1A40F800A04007F00070202040202830102")[1] == 0x9000


def test_transport_session_cannot_read_data_groups():
    state = new_blank_card("vn-cccd-2021", SERIAL, TK)
    t = ChipTransport(VirtualChip(state))
    s = PersonalizationSession(t, "vn-cccd-2021")
    s.authenticate(TK)
    s.write_file("DG1", CONTENT["DG1"])
    assert tx(s._sm, "00B0810004")[1] == 0x6982
    s.write_file("EF.CardAccess", card_access_bytes(load_profile("vn-cccd-2021")))  # selects the MF
    assert tx(s._sm, "00B09C0004")[1] == 0x9000          # EF.CardAccess is public
    assert tx(s._sm, "00A4040C07" + AID)[1] == 0x9000
    assert tx(s._sm, "00B09C0004")[1] == 0x6A82          # SFI 1C is under the MF, not the application
