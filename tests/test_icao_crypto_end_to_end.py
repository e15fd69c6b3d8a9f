"""Terminal ↔ chip end to end over a Transport: PACE (every mapping × domain parameters × ciphers; every
standardized parameter id 0-18 appears at least once) or BAC,
then secure messaging, Chip Authentication with SM restart, Active Authentication; SSC after errors."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from icao9303.apdu import CommandAPDU
from icao9303.crypto import (
    BACChip,
    CANKey,
    MRZKey,
    PACEChip,
    SecureMessagingTransport,
    SMError,
    active_authentication_le,
    active_authentication_sign,
    internal_authenticate_command,
    perform_bac,
    perform_chip_authentication,
    perform_pace,
    standardized_domain_parameters,
    verify_active_authentication,
    verify_pace_cam,
)
from icao9303.crypto.ca import ChipAuthenticationChip, ChipAuthenticationKey
from icao9303.crypto.errors import CryptoError, UnsupportedAlgorithmError
from icao9303.crypto.pace import PACETerminal, parse_mse_set_at
from icao9303.errors import CardError, VerificationFailedError
from icao9303.lds import oids

FILE = bytes(range(256)) * 3
OK = b"\x90\x00"


def _sw(value: int) -> bytes:
    return value.to_bytes(2, "big")


class MiniChip:
    """A minimal chip for these tests: PACE, BAC, SM, CA, AA and READ BINARY of one file. (The real
    card OS is firmware_profiles' virtual chip; this one only wires the icao9303.crypto chip roles.)"""

    def __init__(self, password, *, pace_domain=None, bac_key=None, ca_group=None, cam_key=None):
        self.password = password
        self.pace_domain = pace_domain
        self.bac_key = bac_key
        self.pace: PACEChip | None = None
        self.bac = BACChip(bac_key) if bac_key else None
        self.sm = None
        self.pending_sm = None
        self.ca_group = ca_group or standardized_domain_parameters(13)
        self.ca_sk, ca_pk = self.ca_group.keypair(cam_key)
        self.ca_public = self.ca_group.encode(ca_pk)
        self.ca = ChipAuthenticationChip(self.ca_sk, self.ca_group, key_id=1)
        self.aa_key = ec.generate_private_key(ec.BrainpoolP256R1())
        self.commands_seen = 0

    def transmit(self, apdu: bytes) -> bytes:
        self.commands_seen += 1
        if self.sm is not None:
            try:
                cmd = self.sm.unprotect_command(apdu)
            except SMError as exc:
                self.sm = None
                return _sw(exc.status_word)
            response = self.dispatch(cmd)
            protected = self.sm.protect_response(response)
            if self.pending_sm is not None:  # CA: answer with the old keys, then switch
                self.sm, self.pending_sm = self.pending_sm, None
            return protected
        return self.dispatch(CommandAPDU.from_bytes(apdu))

    def dispatch(self, cmd: CommandAPDU) -> bytes:
        try:
            return self._dispatch(cmd)
        except CryptoError as exc:
            self.pace = None
            return _sw(getattr(exc, "status_word", 0x6F00))

    def _dispatch(self, cmd: CommandAPDU) -> bytes:
        ins, p1p2 = cmd.ins, (cmd.p1 << 8) | cmd.p2
        if ins == 0x22 and p1p2 == 0xC1A4:
            mse = parse_mse_set_at(cmd.data)
            self.pace = PACEChip(
                self.password,
                mse.oid,
                self.pace_domain,
                chip_authentication_private_key=self.ca_sk if ".4.6." in mse.oid else None,
            )
            self.step = 0
            return OK
        if ins == 0x86 and self.pace is not None:
            self.step += 1
            out = getattr(self.pace, f"step{self.step}")(cmd.data)
            if self.step == 4:
                self.sm = self.pace.result.secure_messaging()
                self.pace = None
            return out + OK
        if ins == 0x84:
            return self.bac.get_challenge() + OK
        if ins == 0x82:
            out, result = self.bac.external_authenticate(cmd.data)
            self.sm = result.secure_messaging()
            return out + OK
        if ins == 0x22 and p1p2 == 0x41A6:
            self.pending_sm = self.ca.mse_set_kat(cmd.data).secure_messaging()
            return OK
        if ins == 0x22 and p1p2 == 0x41A4:
            self.ca.mse_set_at(cmd.data)
            return OK
        if ins == 0x86:
            out, result = self.ca.general_authenticate(cmd.data)
            self.pending_sm = result.secure_messaging()
            return out + OK
        if ins == 0x88:
            return active_authentication_sign(self.aa_key, cmd.data, hash_algorithm="sha256") + OK
        if ins == 0xB0:
            if self.sm is None:
                return _sw(0x6982)
            offset = (cmd.p1 << 8) | cmd.p2
            if offset >= len(FILE):
                return _sw(0x6B00)
            return FILE[offset : offset + (cmd.ne or 0)] + OK
        return _sw(0x6D00)


def _read(transport, offset: int, length: int) -> bytes:
    response = transport.transmit(CommandAPDU(0x00, 0xB0, offset >> 8, offset & 0xFF, b"", length).to_bytes())
    assert response[-2:] == OK, response[-2:].hex()
    return response[:-2]


def _after_access(chip: MiniChip, transport: SecureMessagingTransport, ca_oid: str) -> None:
    assert _read(transport, 0, 200) == FILE[:200]
    assert _read(transport, 200, 500) == FILE[200:700]  # extended Le through SM
    key = ChipAuthenticationKey(
        oids.ID_PK_ECDH if chip.ca_group.is_ec else oids.ID_PK_DH, chip.ca_group, chip.ca_public, 1
    )
    perform_chip_authentication(transport, ca_oid, key)
    assert transport.sm.ssc == 0 and chip.sm.ssc == 0  # SM restarted with the CA keys
    assert _read(transport, 10, 20) == FILE[10:30]  # under the CA keys
    challenge = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    public = chip.aa_key.public_key()
    response = transport.transmit(internal_authenticate_command(challenge, active_authentication_le(public)))
    verify_active_authentication(public, challenge, response[:-2], signature_algorithm=oids.ECDSA_WITH_SHA256)


GM_CASES = [
    (oids.ID_PACE_ECDH_GM_3DES_CBC_CBC, 8),
    (oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, 13),
    (oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_256, 18),
    (oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_192, 10),
    (oids.ID_PACE_DH_GM_3DES_CBC_CBC, 0),
    (oids.ID_PACE_DH_GM_AES_CBC_CMAC_192, 2),
    (oids.ID_PACE_ECDH_GM_3DES_CBC_CBC, 11),
    (oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, 15),
]
IM_CASES = [
    (oids.ID_PACE_ECDH_IM_3DES_CBC_CBC, 9),
    (oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_128, 13),
    (oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_192, 16),
    (oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_256, 12),
    (oids.ID_PACE_DH_IM_AES_CBC_CMAC_256, 1),
    (oids.ID_PACE_DH_IM_3DES_CBC_CBC, 0),
    (oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_256, 17),
]
CAM_CASES = [
    (oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_128, 13),
    (oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_192, 12),
    (oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_256, 14),
]


@pytest.mark.parametrize(
    "oid,pid", GM_CASES + IM_CASES + CAM_CASES, ids=lambda v: oids.oid_name(v) if isinstance(v, str) else str(v)
)
def test_pace_end_to_end(oid, pid):
    cam = ".4.6." in oid
    ca_group = standardized_domain_parameters(pid) if cam else standardized_domain_parameters(13)
    chip = MiniChip(CANKey("123456"), pace_domain=pid, ca_group=ca_group)
    result = perform_pace(chip, CANKey("123456"), oid, parameter_id=pid)
    assert result.oid == oid and result.parameter_id == pid
    if cam:
        verify_pace_cam(result, chip.ca_public)
    transport = SecureMessagingTransport(chip, result.secure_messaging())
    ca_oid = oids.ID_CA_ECDH_AES_CBC_CMAC_128 if chip.ca_group.is_ec else oids.ID_CA_DH_AES_CBC_CMAC_128
    _after_access(chip, transport, ca_oid)


def test_pace_with_pace_info_object_and_mrz():
    from icao9303.lds.security_infos import PACEInfo

    info = PACEInfo({"protocol": oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, "version": 2, "parameter_id": 13})
    key = MRZKey("T22000129", "640812", "101031")
    chip = MiniChip(key, pace_domain=13)
    result = perform_pace(chip, key, info, send_parameter_id=False)
    assert result.password_type == 1


def test_pace_wrong_password_is_refused_by_chip():
    chip = MiniChip(CANKey("123456"), pace_domain=13)
    with pytest.raises(VerificationFailedError) as exc:
        perform_pace(chip, CANKey("654321"), oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, parameter_id=13)
    assert exc.value.sw == 0x6300 and exc.value.step == "PACE step 4"


def test_im_refuses_p224():
    with pytest.raises(UnsupportedAlgorithmError):
        PACETerminal(CANKey("1"), oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_128, 10)


def test_cam_needs_chip_key_and_has_no_3des():
    with pytest.raises(UnsupportedAlgorithmError):
        PACEChip(CANKey("1"), oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_128, 13)
    with pytest.raises(UnsupportedAlgorithmError):
        PACETerminal(CANKey("1"), "0.4.0.127.0.7.2.2.4.6.1", 13)


@pytest.mark.parametrize(
    "ca_oid,pid",
    [(oids.ID_CA_ECDH_3DES_CBC_CBC, 13), (oids.ID_CA_DH_3DES_CBC_CBC, 0), (oids.ID_CA_DH_AES_CBC_CMAC_256, 2)],
)
def test_bac_then_ca_and_aa(ca_oid, pid):
    key = MRZKey("L898902C", "690806", "940623")
    chip = MiniChip(key, bac_key=key, ca_group=standardized_domain_parameters(pid))
    result = perform_bac(chip, key)
    transport = SecureMessagingTransport(chip, result.secure_messaging())
    _after_access(chip, transport, ca_oid)


def test_ssc_stays_in_step_after_protected_error_and_dies_on_plain_error():
    chip = MiniChip(CANKey("123456"), pace_domain=13)
    result = perform_pace(chip, CANKey("123456"), oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, parameter_id=13)
    transport = SecureMessagingTransport(chip, result.secure_messaging())
    # A protected error status (6B00 offset beyond the file) keeps the session; both sides count it.
    response = transport.transmit(CommandAPDU(0x00, 0xB0, 0x7F, 0x00, b"", 4).to_bytes())
    assert response == b"\x6b\x00"
    assert transport.sm.ssc == chip.sm.ssc == 2
    assert _read(transport, 0, 8) == FILE[:8]
    assert transport.sm.ssc == chip.sm.ssc == 4
    # A corrupted MAC: the chip answers plain 6988 and drops SM; the terminal does not count it.
    protected = bytearray(transport.sm.protect_command(CommandAPDU(0x00, 0xB0, 0, 0, b"", 4).to_bytes()))
    protected[-2] ^= 1
    ssc = transport.sm.ssc
    with pytest.raises(SMError) as exc:
        transport.sm.unprotect_response(chip.transmit(bytes(protected)))
    assert exc.value.reason == "sm.unprotected_response" and exc.value.sw == 0x6988
    assert transport.sm.ssc == ssc and not transport.sm.alive and chip.sm is None
    # Plain read now refused; a new PACE gives a new working session.
    with pytest.raises(SMError):
        transport.transmit(CommandAPDU(0x00, 0xB0, 0, 0, b"", 4).to_bytes())
    result = perform_pace(chip, CANKey("123456"), oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, parameter_id=13)
    transport = SecureMessagingTransport(chip, result.secure_messaging())
    assert _read(transport, 0, 8) == FILE[:8]


def test_card_error_names_mse_step():
    class Refuses:
        def transmit(self, apdu):
            return b"\x6a\x80"

    with pytest.raises(CardError) as exc:
        perform_pace(Refuses(), CANKey("1"), oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, parameter_id=13)
    assert "MSE" in exc.value.step


def _small_multiple(group, point, *, want_leading_zero_x: bool = True, limit: int = 20000) -> tuple[int, object]:
    """The smallest k with (k·point).x < 2^(8·(len-1)) — a field element with a leading zero octet."""
    current = point
    bound = 1 << (8 * (group.field_length - 1))
    for k in range(1, limit):
        if current.x() < bound:
            return k, current
        current = current + point
    raise AssertionError("no leading-zero point found")


def test_leading_zero_public_key_and_shared_secret_keep_full_length():
    """LESSONS: big integers encoded without leading zeros broke ~0.7 % of PACE runs elsewhere. Here the
    chip's ephemeral public key AND the shared secret both start with a 00 octet."""
    oid = oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
    key = CANKey("123456")
    terminal = PACETerminal(key, oid, 13)
    chip = PACEChip(key, oid, 13)
    for step in (1, 2):
        command = getattr(terminal, f"step{step}_command")()
        getattr(terminal, f"step{step}_response")(getattr(chip, f"step{step}")(command[5:-1]))
    mapped = terminal._mapped
    k_chip, pk_chip = _small_multiple(mapped, mapped.generator())
    chip._eph_sk_fixed = k_chip
    k_term, _ = _small_multiple(mapped, pk_chip)  # (k_term · PK_IC).x has a leading zero
    terminal._eph_sk_fixed = k_term
    command = terminal.step3_command()
    answer = chip.step3(command[5:-1])
    encoded = mapped.encode(pk_chip)
    assert len(encoded) == 65 and encoded[1] == 0 and encoded in answer
    terminal.step3_response(answer)
    secret = mapped.shared_secret(mapped.agree(k_term, pk_chip))
    assert len(secret) == 32 and secret[0] == 0
    command = terminal.step4_command()
    terminal.step4_response(chip.step4(command[5:-1]))
    assert terminal.result == chip.result


def test_dh_leading_zero_encoding():
    group = standardized_domain_parameters(0)
    y = group.g
    for k in range(1, 5000):
        if y < 1 << (8 * 127):
            break
        y = (y * group.g) % group.p
    encoded = group.encode(y)
    assert len(encoded) == 128 and encoded[0] == 0
    assert group.decode(encoded) == y
    with pytest.raises(CryptoError):
        group.decode(encoded[1:])  # short encodings are refused (decision in domain_params)
    assert k < 5000
