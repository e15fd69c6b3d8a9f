"""`cancuoc chip new-blank` and `cancuoc chip info` (in-process; `chip serve` runs in test_chip_pcsc.py)."""
from __future__ import annotations

import json

from cancuoc.cli import main
from firmware_profiles import CardState, LifeCycle, diversify_transport_key


def test_new_blank_and_info(workspace, tmp_path, capsys):
    master = bytes(range(16))
    key_file = tmp_path / "master.hex"
    key_file.write_text(master.hex())
    assert main(["chip", "new-blank", "--profile", "vn-cc-2024", "--master-key-file", str(key_file),
                 "--serial", "a1b2c3d4e5f60718", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["serial"] == "A1B2C3D4E5F60718" and out["lifecycle"] == "blank"
    state = CardState.load(out["state"])
    assert state.path.parent == workspace / "cards"
    assert state.transport_key == diversify_transport_key(master, "A1B2C3D4E5F60718")
    assert state.lifecycle is LifeCycle.BLANK

    assert main(["chip", "info", "--state", out["state"], "--json"]) == 0
    text = capsys.readouterr().out
    info = json.loads(text)
    assert info["transport_key_present"] and info["files"] == [] and info["profile"] == "vn-cc-2024"
    assert state.transport_key.hex() not in text.lower()          # never a secret

    assert main(["chip", "info", "--json"]) == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)] == ["legacy-bac", "vn-cc-2024",
                                                                        "vn-cccd-2021"]
    assert main(["chip", "info", "--profile", "legacy-bac"]) == 0
    assert "RSA-1024" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    assert main(["chip", "info", "--profile", "nope"]) == 2
    assert "unknown firmware profile" in capsys.readouterr().err
    assert main(["chip", "serve", "--state", str(tmp_path / "missing.json")]) == 2
    assert main(["chip", "serve"]) == 2
    bad = tmp_path / "bad.hex"
    bad.write_text("zz")
    assert main(["chip", "new-blank", "--profile", "vn-cc-2024", "--master-key-file", str(bad)]) == 2
