"""`cancuoc population …` end to end in a private workspace (SQLite) and against PostgreSQL (--database)."""

import json

import pytest

from cancuoc.cli import main
from population import intake
from population.seed import dc01_rows


def run(capsys, *argv):
    code = main(["population", *argv])
    out = capsys.readouterr().out
    return code, out


def test_workspace_sqlite_end_to_end(workspace, capsys, tmp_path):
    code, out = run(capsys, "seed", "--count", "400", "--json", "--planted-out", str(tmp_path / "planted.json"))
    assert code == 0 and json.loads(out)["citizens"] == 400
    assert (workspace / "population.sqlite3").exists()
    planted = json.loads((tmp_path / "planted.json").read_text())
    code, out = run(capsys, "quality", "--json", "--csv", str(tmp_path / "q.csv"))
    report = json.loads(out)
    assert code == 0 and report["scanned"] >= 400 - len(planted["duplicates"])
    found = {(d["personal_id"], d["other_personal_id"]) for d in report["duplicates"]}
    assert all(a < b for a, b in found)  # pairs are reported once, ordered
    assert "DUPLICATE_CANDIDATE" in report["counts"] and report["issues"]
    assert "category,code,personal_id" in (tmp_path / "q.csv").read_text(encoding="utf-8")
    code, out = run(capsys, "quality", "--limit", "5")
    assert code == 0 and "scanned" in out

    rows_iter, _gen = dc01_rows(30, seed=99, duplicate_rate=0)
    rows = list(rows_iter)
    path = tmp_path / "dc01.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        intake.write_dc01_csv(rows, f)
    with path.open("a", encoding="utf-8") as f:
        f.write("garbage,line\n")
    code, out = run(capsys, "import", str(path), "--json")
    rep = json.loads(out)
    assert code == 1 and rep["inserted"] == 30 and rep["reject_reasons"] == {"MALFORMED_ROW": 1}
    assert "MALFORMED_ROW" in (tmp_path / "dc01.csv.rejects.csv").read_text(encoding="utf-8")

    pid = rows[0]["personal_id"]
    code, out = run(capsys, "lookup", pid, "--json")
    assert code == 0 and json.loads(out)["full_name"] == rows[0]["full_name"]
    code, out = run(
        capsys, "update", pid, "--set", "phone=0987654321", "--reason", "DC02 số điện thoại", "--by", "clerk", "--json"
    )
    req = json.loads(out)["request"]
    code, out = run(capsys, "update", "--approve", str(req), "--by", "clerk", "--json")
    assert code == 2 and json.loads(out)["error"]["reason"] == "FOUR_EYES"
    code, out = run(capsys, "update", "--approve", str(req), "--by", "chief", "--json")
    assert code == 0 and json.loads(out)["status"] == "applied"
    code, out = run(capsys, "history", pid, "--json")
    assert any(h["field"] == "phone" and h["new"] == "0987654321" for h in json.loads(out))

    code, out = run(
        capsys,
        "birth",
        "--ref",
        "KS-1",
        "--name",
        "Đỗ Gia Bảo",
        "--date",
        "2025-01-05",
        "--sex",
        "Nam",
        "--province",
        "048",
        "--json",
    )
    new_pid = json.loads(out)[0]["personal_id"]
    assert code == 0 and new_pid.startswith("048225")
    code, out = run(capsys, "lookup", "000000000000", "--json")
    assert code == 2 and json.loads(out)["error"]["reason"] == "CITIZEN_NOT_FOUND"
    code, out = run(capsys, "cards", "list", pid, "--json")
    assert code == 0 and json.loads(out) == []


@pytest.mark.postgres
def test_postgres_database_option(workspace, postgres_url, capsys):
    code, out = run(capsys, "seed", "--count", "300", "--database", postgres_url, "--json")
    assert code == 0 and json.loads(out)["citizens"] == 300
    code, out = run(capsys, "quality", "--database", postgres_url, "--json", "--limit", "3")
    assert code == 0 and json.loads(out)["scanned"] > 250
