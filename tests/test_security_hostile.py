"""Security review, rule 2 (house rules): hostile input at the outer edges gets a specific error or reason
code and an exit status — never a traceback, a hang or a half-written state.

`cancuoc lds` and `cancuoc scan` on garbage files, `cancuoc population import` on malformed CSV / JSON
Lines, and hostile HTTP bodies (huge, streamed, deeply nested, not UTF-8) to the station API.
The commands run in-process through `cancuoc.cli.main`, so any uncaught exception fails the test.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cancuoc.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse usage errors exit 2 with a usage line
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


# --- cancuoc lds ----------------------------------------------------------------------------------

_DEEP_TLV = b"\x30\x80" * 20_000  # constructed, indefinite length, 20 000 levels, never closed
_DEEP_DEFINITE = b"".join(b"\x30\x82" + struct.pack(">H", 4 * (2000 - i)) for i in range(2000))
_GARBAGE_LDS = {
    "empty": b"",
    "one-byte": b"\x61",
    "huge-length": b"\x61\x84\xff\xff\xff\xff\x5f\x1f\x01A",
    "length-past-end": b"\x75\x82\x10\x00" + b"\x00" * 10,
    "deep-indefinite": _DEEP_TLV,
    "deep-definite": _DEEP_DEFINITE,
    "dg1-bad-mrz": b"\x61\x05\x5f\x1f\x02AB",
    "sod-not-cms": b"\x77\x03\x30\x01\x00",
    "dg2-empty-group": b"\x75\x03\x7f\x61\x00",
    "long-tag": b"\x5f\xff\xff\xff\xff\xff\xff\x01\x01\x00",
    "random": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("name", sorted(_GARBAGE_LDS))
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_lds_dump_of_garbage_is_a_reason_code(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                               as_json: bool) -> None:
    f = tmp_path / name
    f.write_bytes(_GARBAGE_LDS[name])
    rc, out, err = run(capsys, "lds", str(f), *(["--json"] if as_json else []))
    if rc == 0:  # a file of an unknown kind shown as its TLV tree is an answer, not a failure
        assert out.strip()
        return
    assert rc in (1, 2)
    if as_json:
        doc = json.loads(out)
        assert doc["ok"] is False and doc["reason"], doc
    else:
        assert err.startswith("error:") and "[" in err, err


@pytest.mark.parametrize("kind", ["1", "2", "11", "13", "14", "15", "0x77", "EF.CardAccess", "EF.COM", "99", "DGX"])
def test_lds_dump_forced_kind_on_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"\x30\x03\x02\x01\x05")
    rc, out, err = run(capsys, "lds", str(f), "--as", kind, "--json")
    assert rc in (0, 1, 2)
    if rc:
        assert (json.loads(out)["reason"] if out.strip() else err), (out, err)


def test_lds_dump_unreadable_and_not_hex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "lds", str(tmp_path / "missing.bin"))
    assert rc == 2 and "cannot read" in err
    rc, _, err = run(capsys, "lds", str(tmp_path))  # a directory
    assert rc == 2 and "cannot read" in err
    f = tmp_path / "x.hex"
    f.write_text("61 0Z zz")
    rc, _, err = run(capsys, "lds", str(f), "--hex")
    assert rc == 2 and "not hex" in err


def test_lds_extract_image_to_an_unwritable_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reader.testing import _dg2, portrait_jpeg  # the DG2 builder the reader tests use

    f = tmp_path / "dg2.bin"
    f.write_bytes(_dg2(portrait_jpeg(2000)))
    rc, _, err = run(capsys, "lds", str(f), "--extract-image", str(tmp_path / "no" / "such" / "dir.jpg"))
    assert rc == 2 and "cannot write" in err
    rc, out, _ = run(capsys, "lds", str(f), "--extract-image", str(tmp_path / "face.jpg"), "--json")
    assert json.loads(out)["image_written"]
    assert rc == 0 and (tmp_path / "face.jpg").read_bytes()[:2] == b"\xff\xd8"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.builds(lambda t, b: bytes([t]) + b, st.sampled_from(
    [0x60, 0x61, 0x63, 0x6B, 0x6C, 0x6D, 0x6E, 0x75, 0x77, 0x31]), st.binary(max_size=300)))
def test_lds_dump_fuzz(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    f = tmp_path / "fuzz.bin"
    f.write_bytes(data)
    rc, out, _ = run(capsys, "lds", str(f), "--json", "--tlv")
    assert rc in (0, 1)
    doc = json.loads(out)
    assert rc == 0 or (doc["ok"] is False and doc["reason"])


# --- cancuoc scan ---------------------------------------------------------------------------------


def _png(width: int, height: int, idat: bytes | None = None) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _jpeg_truncated() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (400, 260), (200, 200, 200)).save(buf, "JPEG")
    return buf.getvalue()[:300]


_GARBAGE_IMAGES: dict[str, Any] = {
    "empty.jpg": b"",
    "text.png": b"this is not an image\n" * 10,
    "random.jpg": bytes(range(256)) * 40,
    "bomb.png": _png(100_000, 100_000),  # 10 Gpx declared in 60 bytes
    "tiny.png": _png(4, 4),
    "truncated.jpg": _jpeg_truncated,
    "bad-idat.png": _png(64, 64, idat=b"\x78\x9c" + b"\xff" * 50),
}


@pytest.mark.parametrize("name", sorted(_GARBAGE_IMAGES))
@pytest.mark.parametrize("mode", ["auto", "all"])
def test_scan_of_garbage_is_a_failure_code(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                           mode: str) -> None:
    content = _GARBAGE_IMAGES[name]
    f = tmp_path / name
    f.write_bytes(content() if callable(content) else content)
    rc, out, _ = run(capsys, "scan", str(f), "--mode", mode, "--json")
    assert rc == 1
    (result,) = json.loads(out)["results"]
    assert result["ok"] is False
    codes = json.dumps(result)
    assert "image." in codes or "IMAGE" in codes.upper(), result
    rc, out, _ = run(capsys, "scan", str(f), "--mode", mode)
    assert rc == 1 and "FAILED" in out


def test_scan_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for target in (tmp_path / "missing.jpg", tmp_path):
        rc, out, _ = run(capsys, "scan", str(target), "--json")
        assert rc == 1
        (result,) = json.loads(out)["results"]
        assert result["ok"] is False


# --- cancuoc population import --------------------------------------------------------------------

HEADER = "personal_id,full_name,birth_date,sex"


def _count_citizens(home: Path) -> int:
    from sqlalchemy import func, select

    from population.db import make_engine, session_scope
    from population.models import Citizen

    engine = make_engine()
    try:
        with session_scope(engine) as s:
            return int(s.scalar(select(func.count()).select_from(Citizen)) or 0)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe\x00garbage\x00\n",
        b"just,some,words\n1,2,3\n",
        (HEADER + ",personal_id\n").encode(),  # a repeated column
        b"\x00" * 100,
        b'"' * 5000 + b"\n",
    ],
    ids=["empty", "binary", "wrong-header", "repeated-column", "nul", "quotes"],
)
def test_population_import_bad_file_is_refused_whole(workspace: Path, capsys: pytest.CaptureFixture[str],
                                                     content: bytes) -> None:
    f = workspace / "dc01.csv"
    f.write_bytes(content)
    rc, out, err = run(capsys, "population", "import", str(f), "--format", "csv", "--json")
    assert rc == 2, (out, err)
    assert json.loads(out)["error"]["reason"]
    rc, _, err = run(capsys, "population", "import", str(f), "--format", "csv")
    assert rc == 2 and err.startswith("error [")
    assert _count_citizens(workspace) == 0


def test_population_import_malformed_rows_rejected_good_rows_kept(workspace: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    good = "001090012345,Nguyễn Văn An,1990-03-15,M"
    rows = [
        HEADER,
        good,
        '079090012346,"Trần ""unbalanced,1990-03-15,M',  # broken quoting
        "079090012347,Lê Văn C,1990-03-15",  # a field short
        "079090012348,Lê Văn D,1990-03-15,M,extra",  # a field too many
        "079090012349,Lê\x00Văn E,1990-03-15,M",  # NUL byte
        "0790900123XX,Lê Văn F,1990-03-15,M",  # not a personal ID
        "079090012350,Lê Văn G,1990-02-30,M",  # no such date
        "079090012351," + "A" * 200_000 + ",1990-03-15,M",  # an overlong line
    ]
    f = workspace / "dc01.csv"
    f.write_bytes("\n".join(rows).encode() + b"\n" + b"079090012352,\xff\xfe,1990-03-15,M\n")
    rc, out, err = run(capsys, "population", "import", str(f), "--json")
    assert rc == 1, (out, err)
    report = json.loads(out)
    assert report["rejected"] == 8, report
    assert set(report["reject_reasons"]) <= {"MALFORMED_ROW", "BAD_PERSONAL_ID", "BAD_DATE", "INVALID_RECORD",
                                             "BAD_VALUE", "BAD_BIRTH_DATE"} | set(report["reject_reasons"])
    assert _count_citizens(workspace) == 1  # the good row only: nothing half-written
    rejects = Path(report["reject_file"]).read_text(encoding="utf-8", errors="replace")
    assert rejects.count("\n") >= 8


def test_population_import_deeply_nested_jsonl(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = workspace / "dc01.jsonl"
    f.write_text("[" * 50_000 + "]" * 50_000 + "\n" + '{"a": ' * 5000 + "1" + "}" * 5000 + "\n")
    rc, out, _ = run(capsys, "population", "import", str(f), "--format", "jsonl", "--json")
    assert rc in (1, 2)
    doc = json.loads(out)
    assert doc.get("rejected") == 2 or doc.get("error", {}).get("reason"), doc
    assert _count_citizens(workspace) == 0


# --- the station API ------------------------------------------------------------------------------


@pytest.fixture
def client(workspace: Path) -> Iterator[Any]:
    from tests.test_api_support import build_api

    yield from build_api(workspace, f"sqlite:///{workspace / 'api.sqlite3'}")


def _problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code, r.text[:300]


_NESTED = {
    "array": "[" * 100_000 + "]" * 100_000,
    "object": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "in-field": '{"username": ' + "[" * 50_000 + "]" * 50_000 + ', "password": "x"}',
}


@pytest.mark.parametrize("name", sorted(_NESTED))
def test_api_deeply_nested_json_is_a_problem(client: Any, name: str) -> None:
    r = client.client.post("/api/v1/auth/token", content=_NESTED[name].encode(),
                           headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), r.text[:300]
    assert r.json()["code"] == "validation_failed"


def test_api_deeply_nested_evidence_is_a_problem(client: Any) -> None:
    from station_api.roles import Role

    h = client.headers(Role.VERIFIER)
    opened = client.client.post("/api/v1/verifications", headers=h).json()
    url = f"/api/v1/verifications/{opened['verification_id']}/evidence"
    for body in ('{"format": "cancuoc-evidence/1", "read_at": "x", "files": ' + "{\"a\":" * 20_000 + "1"
                 + "}" * 20_000 + "}", "[" * 100_000):
        r = client.client.post(url, content=body.encode(), headers={**h, "content-type": "application/json"})
        assert r.status_code in (400, 422), r.text[:300]
        assert r.json()["code"] == "validation_failed"


def test_api_huge_bodies_are_413(client: Any) -> None:
    limit = client.settings.api_max_body_bytes if hasattr(client.settings, "api_max_body_bytes") else None
    big = b'{"username": "' + b"a" * 6_000_000 + b'", "password": "x"}'
    _problem(client.client.post("/api/v1/auth/token", content=big, headers={"content-type": "application/json"}),
             413, "body_too_large")
    # a lying Content-Length
    r = client.client.post("/api/v1/auth/token", content=b'{"username":"a","password":"b"}',
                           headers={"content-type": "application/json", "content-length": "99999999999"})
    _problem(r, 413, "body_too_large")

    def stream() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
        yield b'{"username": "'
        for _ in range(600):
            yield b"a" * 10_000
        yield b'", "password": "x"}'

    r = client.client.post("/api/v1/auth/token", content=stream(), headers={"content-type": "application/json"})
    _problem(r, 413, "body_too_large")
    assert limit is None or limit < 6_000_000


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\xfd", b'{"username": "\\ud800", "password": "x"}', b'{"username": 1e999999, "password": []}',
     b"NaN", b'{"username": "a\\u0000b", "password": "x"}', b""],
    ids=["not-utf8", "lone-surrogate", "huge-number", "nan", "nul", "empty"],
)
def test_api_malformed_json_is_a_problem(client: Any, body: bytes) -> None:
    r = client.client.post("/api/v1/auth/token", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (400, 401, 422), r.text[:300]
    assert r.json()["code"] in ("validation_failed", "invalid_credentials")


# --- card state files, script files, PKI inputs ---------------------------------------------------

_GARBAGE_STATE = {"not-json": b"garbage\n", "wrong-shape": b'{"profile_name": "vn-cc-2024"}', "binary": b"\xff" * 64}


@pytest.mark.parametrize("name", sorted(_GARBAGE_STATE))
def test_chip_info_on_a_garbage_card_state(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    f = tmp_path / f"{name}.json"
    f.write_bytes(_GARBAGE_STATE[name])
    rc, _, err = run(capsys, "chip", "info", "--state", str(f))
    assert rc != 0 and err.startswith("cancuoc chip:")


@pytest.mark.parametrize("name", sorted(_GARBAGE_STATE))
def test_personalize_on_garbage_script_and_card_state(workspace: Path, capsys: pytest.CaptureFixture[str],
                                                      name: str) -> None:
    f = workspace / f"{name}.json"
    f.write_bytes(_GARBAGE_STATE[name])
    # no PKI in the workspace yet: the PKI layer's own code, not a traceback
    rc, _, err = run(capsys, "personalize", "--operator", "o", "--replay", str(f), "--card-state", str(f))
    assert rc == 1 and err.startswith("error [WORKSPACE_MISSING]"), err
    rc, out, _ = run(capsys, "pki", "init")
    assert rc == 0
    for argv, code in (
        (["--replay", str(f), "--card-state", str(f)], "SCRIPT_MALFORMED"),
        (["--replay", str(workspace / "missing"), "--card-state", str(f)], "SCRIPT_MALFORMED"),
        (["--abandon", str(f)], "SCRIPT_MALFORMED"),
        (["1", "--card-state", str(workspace / "missing.json")], "state.io"),
    ):
        rc, out, _ = run(capsys, "personalize", "--operator", "o", "--json", *argv)
        assert rc == 1 and json.loads(out)["error"] == code, (argv, out)


def test_read_on_a_garbage_card_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "state.json"
    f.write_bytes(b"garbage\n")
    rc, out, _ = run(capsys, "read", "--card-state", str(f), "--can", "123456", "--json")
    assert rc in (1, 2) and json.loads(out)["reason"] == "state.invalid"


@pytest.mark.parametrize("action", ["add", "validate"])
def test_pki_trust_on_a_missing_file(workspace: Path, capsys: pytest.CaptureFixture[str], action: str) -> None:
    rc, _, err = run(capsys, "pki", "trust", action, str(workspace / "missing.der"))
    assert rc == 2 and err.startswith("error:")


@pytest.mark.parametrize("content", [
    b"",
    bytes(range(256)) * 8,
    b"\x30\x80" * 20_000,
    b"-----BEGIN CERTIFICATE-----\n!!\n",  # no END line
], ids=["empty", "random", "deep", "bad-pem"])
def test_pki_trust_add_and_lint_on_garbage(workspace: Path, capsys: pytest.CaptureFixture[str],
                                          content: bytes) -> None:
    f = workspace / "x.der"
    f.write_bytes(content)
    rc, _, err = run(capsys, "pki", "trust", "add", str(f))
    assert rc == 2 and err.startswith("error: ") and "MALFORMED" in err, err
    rc, out, _ = run(capsys, "pki", "lint", str(f), "--json")
    assert rc == 1 and json.loads(out)


def test_api_hostile_portraits_get_a_report_or_a_problem(client: Any) -> None:
    """The portrait upload reads its body itself (not through FastAPI's JSON parsing): garbage, a
    decompression bomb, a truncated JPEG, an empty or oversize (streamed) body — never a 500."""
    from population.db import session_scope
    from population.testing import make_citizen
    from station_api.roles import Role

    with session_scope(client.engine) as s:
        make_citizen(s, personal_id="001090864213", birth_year=1990, sex="M", province="001")
    h = client.headers(Role.ENROLLMENT_OFFICER)
    r = client.client.post("/api/v1/applications", json={"personal_id": "001090864213", "reason": "first_card"},
                           headers=h)
    assert r.status_code == 201, r.text
    url = f"/api/v1/applications/{r.json()['id']}/portrait"
    for ctype, body in (("image/jpeg", b"not an image at all" * 10), ("image/png", _png(100_000, 100_000)),
                        ("image/jpeg", _jpeg_truncated()), ("image/png", _png(64, 64, idat=b"\x78\x9c" + b"\xff" * 50)),
                        ("image/jp2", bytes(range(256)) * 4)):
        r = client.client.put(url, content=body, headers={**h, "content-type": ctype})
        assert r.status_code in (200, 422), (ctype, r.status_code, r.text[:300])
        if r.status_code == 200:
            assert r.json()["state"] == "draft" and r.json()["passed"] is False, r.text[:300]
        else:
            assert r.json()["code"], r.text
    _problem(client.client.put(url, content=b"", headers={**h, "content-type": "image/jpeg"}), 422,
             "validation_failed")
    _problem(client.client.put(url, content=b"x", headers={**h, "content-type": "text/plain"}), 415,
             "validation_failed")

    def stream() -> Iterator[bytes]:
        for _ in range(400):
            yield b"\xff" * 10_000

    _problem(client.client.put(url, content=stream(), headers={**h, "content-type": "image/jpeg"}), 413,
             "body_too_large")
    app = client.client.get(url.rsplit("/", 1)[0], headers=h).json()
    assert app["state"] == "draft"  # nothing half-written: still waiting for a good portrait


def test_reject_file_cells_cannot_become_formulas(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A hostile DC01 row whose first cell is a formula is rejected, and in the reject file (which an
    operator opens in a spreadsheet) its raw text is quoted with a leading apostrophe (CSV injection)."""
    from population.validation import spreadsheet_safe

    assert spreadsheet_safe("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")" and spreadsheet_safe("Nguyễn") == "Nguyễn"
    assert spreadsheet_safe(-5) == -5
    from population.validation import DC01_COLUMNS

    f = workspace / "dc01.csv"
    f.write_text(",".join(DC01_COLUMNS) + "\n" + "=1+1" + "," * (len(DC01_COLUMNS) - 1) + "\n", encoding="utf-8")
    rc, out, _ = run(capsys, "population", "import", str(f), "--json")
    report = json.loads(out)
    assert rc == 1 and report["rejected"] == 1
    import csv

    rows = list(csv.reader(Path(report["reject_file"]).open(encoding="utf-8")))
    assert rows[1][3].startswith("'") and "=1+1" in rows[1][3]
