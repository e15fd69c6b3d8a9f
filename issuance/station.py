"""An enrollment station's working context from the workspace: database, PKI, trust store, batch master key.

`open_station()` is what `cancuoc enroll/personalize/demo` and the station API use; everything comes from
`cancuoc.settings` (CANCUOC_HOME, CANCUOC_DATABASE_URL) and the key store (file or PKCS#11).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_profiles import CardState, diversify_transport_key, load_profile, new_blank_card
from issuance.personalize import IssuanceContext

#: Key-store label of the blank-card batch master key (AES-128, never leaves the store).
BATCH_MASTER_LABEL = "card-batch-master"


def ensure_batch_master(keystore: Any) -> None:
    """Create the batch master key inside the key store on first use (shared with the card manufacturer
    as a key ceremony would; here the same store makes the virtual blank cards)."""
    if not keystore.has_key(BATCH_MASTER_LABEL):
        keystore.generate_secret(BATCH_MASTER_LABEL)


def transport_key_function(keystore: Any) -> Callable[[str], bytes]:
    """serial → transport key, TK = AES-CMAC(batch master, 01 ‖ serial), computed inside the key store."""

    def transport_key_for(serial: str) -> bytes:
        return diversify_transport_key(lambda message: keystore.cmac(BATCH_MASTER_LABEL, message), serial)

    return transport_key_for


def own_trust_store(pki: Any, directory: Path | None = None) -> Any:
    """The trust store a station's read-back (and a counter of ours) validates against: this PKI's CSCAs,
    link certificates and newest CRLs, each import verified by `pki.truststore`."""
    from pki.truststore import TrustStore

    return pki.seed_trust_store(TrustStore(directory))


def open_station(*, init_pki: bool = False, engine: Any = None, keystore: Any = None) -> IssuanceContext:
    """The station context from the workspace settings. `init_pki` runs `pki init` on a fresh workspace."""
    from cancuoc.settings import get_settings
    from pki.workspace import open_keystore, open_workspace
    from population.db import make_engine, upgrade_database

    settings = get_settings()
    settings.ensure_home()
    if engine is None:
        # SQL logging and DBAPI errors must not print bound parameters (personal IDs, so CANs).
        engine = make_engine(settings.effective_database_url, hide_parameters=True)
        upgrade_database(engine)
    keystore = keystore or open_keystore(settings.keystore_dir)
    pki = open_workspace(settings.pki_dir, keystore)
    if init_pki and not pki.initialised:
        pki.init()
    ensure_batch_master(pki.keystore)
    # The workspace's on-disk trust store (what `cancuoc read` and the station API validate against) gets
    # this PKI's CSCAs, links and CRLs too, so a card issued here verifies at a counter of this workspace.
    return IssuanceContext(engine=engine, pki=pki, trust_store=own_trust_store(pki, settings.truststore_dir),
                           transport_key_for=transport_key_function(pki.keystore))


def manufacture_blank_card(ctx: IssuanceContext, profile_name: str, path: Path | None = None,
                           serial: str | None = None) -> CardState:
    """A blank virtual card of `profile_name` with its diversified transport key (the card maker's step)."""
    profile = load_profile(profile_name)
    serial = serial or os.urandom(8).hex().upper()
    return new_blank_card(profile, serial, ctx.transport_key_for(serial), path=path)
