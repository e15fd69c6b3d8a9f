"""`cancuoc mrz` and `cancuoc lds` through the real console-script dispatcher."""
import json

import pytest

from cancuoc.cli import main
from icao9303.lds import DG2, EFCOM

TD1 = ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"]
VN = ["IDVNM0900123450079090012345<<0", "9003152M3003150VNM<<<<<<<<<<<8", "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<"]


def test_mrz_parse_json(capsys):
    assert main(["mrz", "parse", "--json", *TD1]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["document_number"] == "D23145890" and out["secondary_identifier"] == "ANNA MARIA"


def test_mrz_parse_stdin_text(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(VN) + "\n"))
    assert main(["mrz", "parse"]) == 0
    assert "079090012345" in capsys.readouterr().out


def test_mrz_check_names_field_and_position(capsys):
    bad = [TD1[0], TD1[1][:6] + "3" + TD1[1][7:], TD1[2]]
    assert main(["mrz", "check", "--json", *bad]) == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["ok"], out["field"], out["line"], out["position"]) == (False, "date_of_birth", 2, 7)
    assert main(["mrz", "check", *TD1]) == 0


def test_mrz_format_vn(capsys):
    assert main(["mrz", "format", "--id", "079090012345", "--name", "Nguyễn Văn An", "--dob", "1990-03-15",
                 "--sex", "M", "--issued", "2021-05-01"]) == 0
    assert capsys.readouterr().out.split() == VN
    assert main(["mrz", "format", "--id", "001162004321", "--name", "Trần Thị Bình", "--dob", "1962-01-01",
                 "--sex", "Nữ", "--expiry", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["date_of_expiry"] == "991231"
    assert main(["mrz", "format", "--id", "003090012345", "--name", "A B", "--dob", "1990-03-15",
                 "--sex", "M", "--expiry", "none"]) == 1


def test_lds_dump(tmp_path, capsys):
    com = tmp_path / "ef_com.bin"
    com.write_bytes(EFCOM.for_data_groups([1, 2, 13, 14, 15]).to_bytes())
    assert main(["lds", str(com), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data_groups"] == [1, 2, 13, 14, 15]
    dg2 = tmp_path / "dg2.bin"
    dg2.write_bytes(DG2.from_image(b"\xff\xd8\xff\xe0fake-jpeg", 10, 10).to_bytes())
    out_img = tmp_path / "face.jpg"
    assert main(["lds", str(dg2), "--as", "2", "--extract-image", str(out_img)]) == 0
    assert out_img.read_bytes() == b"\xff\xd8\xff\xe0fake-jpeg"
    assert "ISO/IEC 19794-5" in capsys.readouterr().out


@pytest.mark.parametrize("content", [b"", b"\x61\x05\x00", b"\x99\x00"])
def test_lds_dump_bad_file(tmp_path, capsys, content):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(content)
    assert main(["lds", str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
