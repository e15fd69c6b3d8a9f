"""Chip products as data (firmware profiles) and the virtual chip that runs them, plugged into PC/SC via vpcd.

Public API (what the reader, the issuance station and the tests code against)
============================================================================

Profiles (`firmware_profiles.profile`) - frozen dataclasses loaded from `firmware_profiles/profiles/*.json`:

- ``load_profile(name) -> FirmwareProfile``: ``"vn-cccd-2021"``, ``"vn-cc-2024"``, ``"legacy-bac"``.
- ``list_profiles() -> list[str]``; ``detect_profile(atr: bytes) -> FirmwareProfile`` (exact ATR, then
  historical bytes; `ProfileError` reason ``profile.atr_unknown``).
- ``FirmwareProfile`` fields: ``name, product, atr, aid, files (EFSpec: name, fid, sfi, df, max_size,
  read), memory_capacity, apdu (ApduLimits: extended_length, max_command_data, max_response_data,
  max_read_binary, oversize_read), bac, pace (Pace: mappings, parameter_ids, cipher, passwords,
  parameter_id_in_mse), chip_authentication (cipher, curve, key_id), active_authentication (algorithm,
  key_size, curve, hash), eac_protected_dgs, throttle, timing, personalization
  (PersonalizationDialect)``; helpers ``file_by_name/file_by_fid/file_by_sfi``, ``historical_bytes``.

Card state (`firmware_profiles.state`) - the chip's non-volatile memory, persisted as a JSON file:

- ``diversify_transport_key(master: bytes | Callable[[bytes], bytes], serial: str) -> bytes``:
  TK = AES-CMAC(master, 01 ‖ serial) (16 bytes); pass a callable to keep the master key in a key store.
- ``new_blank_card(profile, serial: str (16 hex), transport_key: bytes, path=None) -> CardState``.
- ``CardState.load(path)``, ``state.save(path=None)``, ``state.lifecycle`` (``LifeCycle.BLANK /
  PERSONALIZED / LOCKED``), ``state.serial``, ``state.profile``.

The virtual chip (`firmware_profiles.chip`):

- ``VirtualChip(state: CardState, *, rng=os.urandom, profile=None)`` implements ``icao9303.transport.CardOS``
  (``power_on() -> ATR``, ``power_off()``, ``reset() -> ATR``, ``process_apdu(bytes) -> bytes``, never
  raises). ``chip.chip_time_s`` is the simulated chip time so far (timing model), ``last_apdu_time_s``,
  ``apdu_count``, ``internal_errors`` (always 0 unless there is a bug).
  ``VirtualChip.open(path)`` runs a saved state file and persists every change back to it.
  ``profile=`` runs a variant profile (from ``parse_profile``) to test reader quirks; ``rng=`` and
  ``pace_fixed=`` fix the chip's randomness to replay published worked examples.
- Commands: SELECT (AID; FID under the current DF; MF 3F00; path), READ BINARY (B0 offset/SFI, B1 with
  DO'54'/DO'53', short/extended Le, oversize policy per profile), GET CHALLENGE, EXTERNAL AUTHENTICATE
  (BAC P2=00; transport key P2 per profile), MSE:Set AT (PACE C1A4, CA 41A4), Set KAT (41A6),
  GENERAL AUTHENTICATE (PACE steps 1-4 chained with CLA 10, CA), INTERNAL AUTHENTICATE (AA),
  GET DATA 9F7F (chip serial), and the personalization dialect (CREATE FILE, UPDATE BINARY,
  GENERATE ASYMMETRIC KEY PAIR, PUT DATA, ACTIVATE FILE). Protocol math: ``icao9303.crypto``; the
  APDU side of PACE/CA/AA is `firmware_profiles.protocols`.
- ``ChipTransport(card_os)``: the minimal in-process ``Transport`` (``transmit``, ``reset``) for unit
  tests; the reader's full-featured in-process adapter lives in ``reader/``.

Personalization, terminal side (`firmware_profiles.dialect`) - what the issuance station drives:

- ``PersonalizationSession(transport, profile)`` with ``select_application()``, ``read_serial() -> str``
  (GET DATA 9F7F, to diversify the transport key), ``authenticate(transport_key)``,
  ``create_file(name, size)``, ``write_file(name, data, *, create=True)``,
  ``generate_key_pair(purpose: "CA" | "AA") -> bytes`` (DER SubjectPublicKeyInfo; the private key
  never leaves the chip), ``set_access_keys(mrz_information: str, can: str | None)``, ``lock()``.
  Every refusal raises ``PersonalizationError`` with ``.sw`` and ``.step``.

What the chip announces (`firmware_profiles.security_infos`) - so the files match the firmware:

- ``pace_oids(profile)``, ``ca_oid(profile)``, ``aa_signature_oid(profile)``;
  ``card_access_bytes(profile) -> bytes`` (EF.CardAccess), ``dg14_security_infos(profile, ca_spki) ->
  bytes`` (the SET to wrap in tag 6E), ``chip_authentication_infos(profile, ca_spki)``.
- DG15 is ``encode_tlv(0x6F, aa_spki)``: the SPKI that ``generate_key_pair("AA")`` returned.

The PC/SC bridge (`firmware_profiles.vpcd`):

- ``VpcdBridge(card_os, host="127.0.0.1", port=35963)``: ``start()/insert()``, ``remove()/stop()``,
  ``serve_forever()``; ``slot_port(slot)``; ``EchoCard`` (the benchmark floor).
- CLI: ``cancuoc chip serve --profile NAME [--state FILE] [--slot N] [--port P]``,
  ``cancuoc chip new-blank``, ``cancuoc chip info`` (`firmware_profiles.cli`).
- Test fixtures ``pcscd`` and ``virtual_card``: see ``tests/fixtures/pcsc.py``.

Errors (`firmware_profiles.errors`): ``FirmwareError`` > ``ProfileError``, ``CardStateError``,
``PersonalizationError``, ``BridgeError``; each with a stable ``reason`` code.
"""
from __future__ import annotations

from firmware_profiles.chip import ChipTransport, VirtualChip
from firmware_profiles.dialect import PersonalizationSession
from firmware_profiles.errors import (
    BridgeError,
    CardStateError,
    FirmwareError,
    PersonalizationError,
    ProfileError,
)
from firmware_profiles.profile import (
    FirmwareProfile,
    detect_profile,
    list_profiles,
    load_profile,
    parse_profile,
)
from firmware_profiles.state import CardState, LifeCycle, diversify_transport_key, new_blank_card
from firmware_profiles.vpcd import EchoCard, VpcdBridge, slot_port

__all__ = [
    "BridgeError",
    "CardState",
    "CardStateError",
    "ChipTransport",
    "EchoCard",
    "FirmwareError",
    "FirmwareProfile",
    "LifeCycle",
    "PersonalizationError",
    "PersonalizationSession",
    "ProfileError",
    "VirtualChip",
    "VpcdBridge",
    "detect_profile",
    "diversify_transport_key",
    "list_profiles",
    "load_profile",
    "new_blank_card",
    "parse_profile",
    "slot_port",
]
