"""Firmware profiles: one chip product as data, validated on load into frozen dataclasses.

Each profile is a JSON file under `firmware_profiles/profiles/` (STYLE §8 "policy is data").

A profile says everything the virtual chip, the reader and the issuance station need to know about a
chip product: its ATR, the eMRTD file system (ICAO 9303-10 §3.11 / table 37), the access-control
protocols and their algorithms (ICAO 9303-11 §4 BAC, §4.4 PACE, §6.1 AA, §6.2 CA), the APDU limits
(ISO/IEC 7816-4 §5.1 short/extended length, largest READ BINARY), how wrong access keys are
throttled, a timing model, and the personalization dialect (how a blank card is written and locked).

The JSON field names are the dataclass field names below; unknown fields are rejected, byte strings
are hex, integers that are bytes on the wire (FIDs, INS, key references) may be written as hex strings.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, StrictBool, StrictInt, TypeAdapter, ValidationError

from firmware_profiles.errors import ProfileError

__all__ = [
    "ActiveAuthentication",
    "ApduLimits",
    "ChipAuthentication",
    "EFSpec",
    "FirmwareProfile",
    "Pace",
    "PersonalizationDialect",
    "Throttle",
    "Timing",
    "detect_profile",
    "list_profiles",
    "load_profile",
    "parse_profile",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _hex_bytes(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError as exc:
            raise ValueError("not a hex string") from exc
    return value


def _hex_int(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError as exc:
            raise ValueError("not a hex number") from exc
    return value


HexBytes = Annotated[bytes, BeforeValidator(_hex_bytes)]
HexInt = Annotated[StrictInt, BeforeValidator(_hex_int)]

#: Read access conditions of an EF: ``always`` (plain, e.g. EF.CardAccess), ``sm`` (after BAC or PACE,
#: through secure messaging), ``eac`` (needs Extended Access Control / Terminal Authentication, which
#: this firmware does not offer: always 6982), ``never`` (not readable at all).
ReadAccess = Literal["always", "sm", "eac", "never"]


@dataclass(frozen=True)
class EFSpec:
    """One elementary file the firmware allows (ICAO 9303-10 table 37).

    Attributes:
        name: LDS name, e.g. ``"EF.COM"``, ``"DG1"``, ``"EF.CardAccess"``.
        fid: file identifier (ISO/IEC 7816-4 §7.1.1), e.g. ``0x0101`` for DG1.
        sfi: short EF identifier (1..30) for READ BINARY with SFI, or None.
        df: the dedicated file holding it: ``"MF"`` (EF.CardAccess, EF.CardSecurity, EF.ATR/INFO) or
            ``"eMRTD"`` (the LDS1 application selected by AID).
        max_size: largest content the firmware accepts for this EF, in bytes.
        read: read access condition (see `ReadAccess`).
    """

    __pydantic_config__ = _STRICT

    name: str
    fid: HexInt
    sfi: StrictInt | None
    df: Literal["MF", "eMRTD"]
    max_size: StrictInt
    read: ReadAccess


@dataclass(frozen=True)
class ApduLimits:
    """APDU lengths the chip accepts (ISO/IEC 7816-4 §5.1; ICAO 9303-10 §3.6.1 EF.ATR/INFO).

    Attributes:
        extended_length: True if the chip accepts extended Lc/Le.
        max_command_data: largest Nc (command data field, after SM wrapping) accepted.
        max_response_data: largest Ne honoured (256 for short-only chips, up to 65536).
        max_read_binary: largest number of plain file bytes one READ BINARY returns (before SM).
        oversize_read: what the chip answers to a READ BINARY asking for more than `max_read_binary`:
            ``"truncate"`` (returns `max_read_binary` bytes, 9000), ``"wrong_length"`` (6700) or
            ``"correct_le"`` (6Cxx with the largest Le it would accept). Readers must cope with all three.
        le_without_response_data: what the chip does with an Le field on commands that return no data
            (SELECT with P2=0C, MSE:Set AT): ``"accept"`` (ignored) or ``"reject"`` (6700) - LESSONS
            "Le on SELECT / MSE": some chips reject it.
    """

    __pydantic_config__ = _STRICT

    extended_length: StrictBool
    max_command_data: StrictInt
    max_response_data: StrictInt
    max_read_binary: StrictInt
    oversize_read: Literal["truncate", "wrong_length", "correct_le"]
    le_without_response_data: Literal["accept", "reject"] = "accept"


@dataclass(frozen=True)
class Pace:
    """PACE as the chip offers it (ICAO 9303-11 §4.4; BSI TR-03110-3 §A.1).

    Attributes:
        mappings: ``"GM"`` generic, ``"IM"`` integrated, ``"CAM"`` chip authentication mapping.
        parameter_ids: standardized domain parameter ids (ICAO 9303-11 §9.5.1), e.g. 13 = brainpoolP256r1.
        cipher: SM cipher after PACE: ``"AES-128"``, ``"AES-192"``, ``"AES-256"`` or ``"3DES"``.
        passwords: passwords accepted in MSE:Set AT tag 83: ``"MRZ"`` (ref 1), ``"CAN"`` (ref 2).
        parameter_id_in_mse: ``"optional"`` (tag 84 accepted, not needed), ``"required"`` (6A80 without
            it) or ``"rejected"`` (6A80 with it) - real chips disagree (LESSONS "Parameter id in MSE").
    """

    __pydantic_config__ = _STRICT

    mappings: tuple[Literal["GM", "IM", "CAM"], ...]
    parameter_ids: tuple[StrictInt, ...]
    cipher: Literal["3DES", "AES-128", "AES-192", "AES-256"]
    passwords: tuple[Literal["MRZ", "CAN"], ...]
    parameter_id_in_mse: Literal["optional", "required", "rejected"] = "optional"


@dataclass(frozen=True)
class ChipAuthentication:
    """Chip Authentication (ICAO 9303-11 §6.2): the static key pair generated on the chip.

    Attributes:
        cipher: SM cipher after CA (``"AES-128"``, ... or ``"3DES"``).
        curve: the key's curve (``"brainpoolP256r1"``, ``"secp256r1"``, ...).
        key_id: the keyId written in DG14's ChipAuthenticationInfo and sent in MSE:Set AT tag 84, or None.
    """

    __pydantic_config__ = _STRICT

    cipher: Literal["3DES", "AES-128", "AES-192", "AES-256"]
    curve: str
    key_id: StrictInt | None = None


@dataclass(frozen=True)
class ActiveAuthentication:
    """Active Authentication (ICAO 9303-11 §6.1): the key pair generated on the chip, public part in DG15.

    Attributes:
        algorithm: ``"RSA"`` (ISO/IEC 9796-2 scheme 1) or ``"ECDSA"``.
        key_size: RSA modulus bits, or the EC field size in bits.
        curve: the curve for ECDSA, None for RSA.
        hash: digest for the signature: ``"SHA-1"``, ``"SHA-224"``, ``"SHA-256"``, ``"SHA-384"``,
            ``"SHA-512"``.
    """

    __pydantic_config__ = _STRICT

    algorithm: Literal["RSA", "ECDSA"]
    key_size: StrictInt
    curve: str | None
    hash: Literal["SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"]


@dataclass(frozen=True)
class Throttle:
    """How the chip slows down guessing of access keys (BAC MRZ key, PACE MRZ/CAN).

    Decision: ICAO 9303-11 leaves this to the chip. Each failed BAC/PACE authentication increments a
    persistent counter (it survives power-off); the next authentication attempt costs
    ``base_delay_ms * 2**(failures-1)`` simulated chip time, capped at `max_delay_ms`; a success resets
    the counter. After `max_failures_per_session` failures within one power session the chip answers
    6983 (authentication method blocked) to every authentication until reset.

    Attributes:
        base_delay_ms: simulated delay after the first failure.
        max_delay_ms: cap of the doubling delay.
        max_failures_per_session: failures tolerated before 6983 until the next reset/power-off.
    """

    __pydantic_config__ = _STRICT

    base_delay_ms: float
    max_delay_ms: float
    max_failures_per_session: StrictInt


@dataclass(frozen=True)
class Timing:
    """A simple chip timing model: simulated time = per-APDU overhead + per-byte I/O + crypto operations.

    Attributes:
        apdu_overhead_us: fixed processing time of every APDU.
        per_byte_us: time per command+response byte (I/O and memory access).
        operations_ms: time per crypto operation; keys used by the chip: ``sm_apdu`` (wrap/unwrap),
            ``bac``, ``pace_ecdh``, ``ca_ecdh``, ``aa_sign``, ``ec_keygen``, ``rsa_keygen``, ``eeprom_write``
            (per 256 bytes written).
    """

    __pydantic_config__ = _STRICT

    apdu_overhead_us: float
    per_byte_us: float
    operations_ms: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "operations_ms", MappingProxyType(dict(self.operations_ms)))

    def __hash__(self) -> int:
        return hash((self.apdu_overhead_us, self.per_byte_us, tuple(sorted(self.operations_ms.items()))))


@dataclass(frozen=True)
class PersonalizationDialect:
    """How this product is personalized (what the issuance station sends to a blank card).

    Decision (ours, not ICAO's: 9303 does not standardize personalization): the transport-key
    authentication is the ICAO 9303-11 §4.3 BAC mutual authentication (GET CHALLENGE, then
    EXTERNAL/MUTUAL AUTHENTICATE) with K_seed = the 16-byte diversified transport key and P2 =
    `transport_key_reference`, giving a 3DES secure-messaging session (9303-11 §9.8) that carries every
    later personalization command. Files are created with CREATE FILE (ISO/IEC 7816-9 §8.1, FCP
    template 62 with 80 size, 82 descriptor 01, 83 FID, 88 SFI) under the currently selected DF, written
    with UPDATE BINARY (ISO/IEC 7816-4 §11.2.5), keys generated with GENERATE ASYMMETRIC KEY PAIR
    (ISO/IEC 7816-8 §5.1; the response data is the public key as a DER SubjectPublicKeyInfo), access
    keys set with PUT DATA (ISO/IEC 7816-4 §11.5.6; data = MRZ information / CAN as ASCII), and the card
    locked with ACTIVATE FILE (ISO/IEC 7816-9 §8.6, the operational state).

    Attributes:
        transport_key_reference: P2 of MUTUAL AUTHENTICATE selecting the transport key (BAC uses 00).
        create_file_ins, write_ins, generate_key_ins, put_data_ins, lock_ins: instruction bytes.
        write_odd_ins: UPDATE BINARY with odd INS (offset in DO 54) for offsets > 32767, or None.
        write_chunk: plain bytes per UPDATE BINARY the station should send.
        key_references: P2 of GENERATE ASYMMETRIC KEY PAIR per purpose: ``"CA"``, ``"AA"``.
        access_key_tags: P1P2 of PUT DATA per access key: ``"MRZ"``, ``"CAN"``.
    """

    __pydantic_config__ = _STRICT

    transport_key_reference: HexInt
    create_file_ins: HexInt
    write_ins: HexInt
    write_odd_ins: HexInt | None
    write_chunk: StrictInt
    generate_key_ins: HexInt
    key_references: dict[Literal["CA", "AA"], HexInt]
    put_data_ins: HexInt
    access_key_tags: dict[Literal["MRZ", "CAN"], HexInt]
    lock_ins: HexInt

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_references", MappingProxyType(dict(self.key_references)))
        object.__setattr__(self, "access_key_tags", MappingProxyType(dict(self.access_key_tags)))

    def __hash__(self) -> int:
        return hash((self.transport_key_reference, self.write_ins, self.lock_ins))


@dataclass(frozen=True)
class FirmwareProfile:
    """One chip product. Built by `load_profile` / `parse_profile`; never mutated.

    Attributes:
        name: the profile's identifier and file name (``"vn-cccd-2021"``).
        product: human description of the chip product.
        atr: the Answer-To-Reset (ISO/IEC 7816-3 §8), including TCK.
        aid: the eMRTD application identifier (ICAO 9303-10 §3.6.1: ``A0000002471001``).
        files: every EF the firmware allows, with size limit and read access.
        memory_capacity: bytes of EEPROM available for file contents (CREATE FILE beyond: 6A84).
        apdu: APDU length limits.
        bac: True if Basic Access Control (9303-11 §4.3, 3DES SM) is offered.
        pace: PACE parameters, or None if the chip has no PACE.
        chip_authentication: CA parameters, or None.
        active_authentication: AA parameters, or None.
        eac_protected_dgs: data groups only readable after EAC (e.g. DG3, DG4); this firmware never
            grants EAC, so they always answer 6982.
        throttle: wrong-access-key throttling.
        timing: the timing model.
        personalization: the personalization dialect.
    """

    __pydantic_config__ = _STRICT

    name: str
    product: str
    atr: HexBytes
    aid: HexBytes
    files: tuple[EFSpec, ...]
    memory_capacity: StrictInt
    apdu: ApduLimits
    bac: StrictBool
    pace: Pace | None
    chip_authentication: ChipAuthentication | None
    active_authentication: ActiveAuthentication | None
    eac_protected_dgs: tuple[StrictInt, ...]
    throttle: Throttle
    timing: Timing
    personalization: PersonalizationDialect

    @property
    def historical_bytes(self) -> bytes:
        """The historical bytes of `atr` (ISO/IEC 7816-3 §8.2)."""
        return _parse_atr(self.atr)[0]

    def file_by_fid(self, fid: int, df: str) -> EFSpec | None:
        for spec in self.files:
            if spec.fid == fid and spec.df == df:
                return spec
        return None

    def file_by_sfi(self, sfi: int, df: str) -> EFSpec | None:
        for spec in self.files:
            if spec.sfi == sfi and spec.df == df:
                return spec
        return None

    def file_by_name(self, name: str) -> EFSpec:
        for spec in self.files:
            if spec.name == name:
                return spec
        raise ProfileError(f"profile {self.name} has no file {name}", profile=self.name, field="files",
                           reason="profile.no_such_file")

    def __repr__(self) -> str:
        return f"FirmwareProfile(name={self.name!r})"

    def __hash__(self) -> int:
        return hash(self.name)


_ADAPTER = TypeAdapter(FirmwareProfile)


def _parse_atr(atr: bytes) -> tuple[bytes, bool]:
    """Split an ATR (ISO/IEC 7816-3 §8.2) into its historical bytes; returns (historical, has_tck)."""
    if len(atr) < 2 or atr[0] not in (0x3B, 0x3F):
        raise ValueError("ATR must start with TS 3B or 3F")
    t0 = atr[1]
    k = t0 & 0x0F
    pos = 2
    y = t0 >> 4
    protocols: set[int] = set()
    while True:
        for bit in (0x1, 0x2, 0x4):  # TA, TB, TC
            if y & bit:
                pos += 1
        if y & 0x8:
            if pos >= len(atr):
                raise ValueError("ATR truncated in interface bytes")
            td = atr[pos]
            pos += 1
            protocols.add(td & 0x0F)
            y = td >> 4
        else:
            break
    hist = atr[pos : pos + k]
    if len(hist) != k:
        raise ValueError("ATR truncated in historical bytes")
    rest = atr[pos + k :]
    has_tck = bool(protocols - {0})
    if has_tck:
        if len(rest) != 1:
            raise ValueError("ATR needs exactly one TCK byte")
        x = 0
        for b in atr[1:]:
            x ^= b
        if x != 0:
            raise ValueError("ATR TCK check failed")
    elif rest:
        raise ValueError("ATR has trailing bytes")
    return hist, has_tck


def _check(profile: FirmwareProfile) -> None:
    def bad(fieldname: str, why: str) -> ProfileError:
        return ProfileError(f"profile {profile.name}: {fieldname}: {why}", profile=profile.name,
                            field=fieldname, reason="profile.invalid")

    try:
        _parse_atr(profile.atr)
    except ValueError as exc:
        raise bad("atr", str(exc)) from None
    if not 5 <= len(profile.aid) <= 16:
        raise bad("aid", "an AID has 5 to 16 bytes")
    seen: set[tuple[str, int]] = set()
    sfis: set[tuple[str, int]] = set()
    for spec in profile.files:
        if not 0 < spec.fid < 0xFFFF or spec.fid in (0x3F00, 0x3FFF):
            raise bad("files", f"{spec.name}: reserved FID")
        if (spec.df, spec.fid) in seen:
            raise bad("files", f"{spec.name}: duplicate FID")
        seen.add((spec.df, spec.fid))
        if spec.sfi is not None:
            if not 1 <= spec.sfi <= 30:
                raise bad("files", f"{spec.name}: SFI must be 1..30")
            if (spec.df, spec.sfi) in sfis:
                raise bad("files", f"{spec.name}: duplicate SFI")
            sfis.add((spec.df, spec.sfi))
        if not 0 < spec.max_size <= 0xFFFF:
            raise bad("files", f"{spec.name}: max_size must be 1..65535")
    a = profile.apdu
    if not a.extended_length and (a.max_command_data > 255 or a.max_response_data > 256):
        raise bad("apdu", "short-length chip cannot exceed Nc 255 / Ne 256")
    if not 1 <= a.max_read_binary <= a.max_response_data:
        raise bad("apdu", "max_read_binary must be within max_response_data")
    if not (profile.bac or profile.pace):
        raise bad("bac", "a chip needs BAC or PACE")
    if profile.pace is not None and (not profile.pace.mappings or not profile.pace.parameter_ids
                                     or not profile.pace.passwords):
        raise bad("pace", "mappings, parameter_ids and passwords must not be empty")
    if profile.pace is not None and "CAM" in profile.pace.mappings and profile.chip_authentication is None:
        raise bad("pace", "PACE-CAM needs a chip authentication key")
    aa = profile.active_authentication
    if aa is not None and (aa.algorithm == "ECDSA") != (aa.curve is not None):
        raise bad("active_authentication", "curve is required for ECDSA and forbidden for RSA")
    d = profile.personalization
    dialect_ins = [d.create_file_ins, d.write_ins, d.generate_key_ins, d.put_data_ins, d.lock_ins]
    if d.write_odd_ins is not None:
        dialect_ins.append(d.write_odd_ins)
    reserved = {0xA4, 0xB0, 0xB1, 0x84, 0x82, 0x22, 0x86, 0x88, 0xCA, 0xC0}
    if len(set(dialect_ins)) != len(dialect_ins) or reserved & set(dialect_ins) or any(
            not 0 <= i <= 0xFF for i in dialect_ins):
        raise bad("personalization", "instruction bytes must be distinct bytes, not eMRTD commands")
    if not 1 <= d.write_chunk <= a.max_command_data:
        raise bad("personalization", "write_chunk must fit max_command_data")
    if profile.chip_authentication is not None and "CA" not in d.key_references:
        raise bad("personalization", "key_references lacks CA")
    if aa is not None and "AA" not in d.key_references:
        raise bad("personalization", "key_references lacks AA")
    names = {spec.name for spec in profile.files}
    for required in ("EF.COM", "EF.SOD", "DG1"):
        if required not in names:
            raise bad("files", f"{required} is mandatory (ICAO 9303-10 §3.11)")


def parse_profile(data: bytes | str | dict[str, Any], *, source: str = "<data>") -> FirmwareProfile:
    """Validate one profile document (JSON text or an already-decoded dict) into a `FirmwareProfile`.

    Raises `ProfileError` (``profile.invalid``) naming the first offending field.
    """
    try:
        obj = json.loads(data) if isinstance(data, (bytes, str)) else data
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProfileError(f"profile {source} is not JSON: {exc.__class__.__name__}", profile=source,
                           reason="profile.invalid") from None
    try:
        profile = _ADAPTER.validate_python(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"profile {source}: {where}: {first['msg']}", profile=source, field=where,
                           reason="profile.invalid") from None
    _check(profile)
    return profile


def list_profiles() -> list[str]:
    """Names of every profile shipped in `firmware_profiles/profiles/`, sorted."""
    root = resources.files("firmware_profiles.profiles")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".json"))


@cache
def load_profile(name: str) -> FirmwareProfile:
    """Load and validate the shipped profile `name` (e.g. ``"vn-cccd-2021"``); cached.

    Raises `ProfileError` with reason ``profile.unknown`` for a name not in `list_profiles()`.
    """
    if name not in list_profiles():
        raise ProfileError(f"unknown firmware profile {name!r}; known: {', '.join(list_profiles())}",
                           profile=name, reason="profile.unknown")
    text = resources.files("firmware_profiles.profiles").joinpath(f"{name}.json").read_text("utf-8")
    profile = parse_profile(text, source=name)
    if profile.name != name:
        raise ProfileError(f"profile file {name}.json names itself {profile.name!r}", profile=name,
                           field="name")
    return profile


def detect_profile(atr: bytes) -> FirmwareProfile:
    """The shipped profile whose ATR equals `atr`, else the one with the same historical bytes.

    Raises `ProfileError` (``profile.atr_unknown``) when none matches.
    """
    atr = bytes(atr)
    profiles = [load_profile(n) for n in list_profiles()]
    for p in profiles:
        if p.atr == atr:
            return p
    try:
        hist = _parse_atr(atr)[0]
    except ValueError:
        hist = None
    if hist:
        for p in profiles:
            if p.historical_bytes == hist:
                return p
    raise ProfileError("no firmware profile matches this ATR", reason="profile.atr_unknown")
