"""`cancuoc mrz` and `cancuoc lds` through the real console-script dispatcher."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cancuoc.cli import main
from icao9303.lds import DG2, EFCOM
from tests.test_icao_hypothesis_settings import FUZZ

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


def _dump_samples():
    from icao9303.tlv import encode_tlv
    from tests.test_icao_lds import SAMPLES, jpeg

    files = dict(SAMPLES)
    files["DG2 (39794-5)"] = DG2.from_image_39794(jpeg(16, 16), 16, 16).to_bytes()
    files["DG3"] = encode_tlv(0x63, encode_tlv(0x7F61, encode_tlv(0x02, b"\x00")))
    files["DG16"] = encode_tlv(0x70, encode_tlv(0x02, b"\x01") + encode_tlv(0xA1, encode_tlv(0x5F50, b"20240101")))
    return files


DUMP_SAMPLES = _dump_samples()


@pytest.mark.parametrize("name", sorted(DUMP_SAMPLES))
def test_lds_dump_every_file_type(tmp_path, capsys, name):
    path = tmp_path / "file.bin"
    path.write_bytes(DUMP_SAMPLES[name])
    assert main(["lds", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["file"] == name.split(" ")[0] and out["bytes"] == len(DUMP_SAMPLES[name])
    if name in ("DG3", "DG16"):
        assert out["parsed"] is False and out["tlv"][0]["tag"] == f"{DUMP_SAMPLES[name][0]:02X}"
    assert main(["lds", str(path), "--tlv"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split() == ["file", name.split(" ")[0]]
    assert "tlv" in lines and "{" not in text  # nested values are laid out, not dumped as JSON
    (tmp_path / "file.hex").write_text(DUMP_SAMPLES[name].hex(" ", 16))
    assert main(["lds", str(tmp_path / "file.hex"), "--hex"]) == 0
    hex_text = capsys.readouterr().out
    assert hex_text == (text if name in ("DG3", "DG16") else text.split("\ntlv\n")[0] + "\n")


def test_lds_dump_readable_fields(tmp_path, capsys):
    path = tmp_path / "f.bin"
    path.write_bytes(DUMP_SAMPLES["DG2 (39794-5)"])
    assert main(["lds", str(path)]) == 0
    text = capsys.readouterr().out
    assert "ISO/IEC 39794-5" in text and "image_data_format   jpeg" in text and "88  002a" in text
    path.write_bytes(DUMP_SAMPLES["EF.CardSecurity"])
    assert main(["lds", str(path)]) == 0
    text = capsys.readouterr().out
    assert "parameters  brainpoolp256r1" in text and "protocol_name  id-PACE-ECDH-GM-AES-CBC-CMAC-128" in text
    path.write_text("zz")
    assert main(["lds", str(path), "--hex"]) == 2


def test_render_tree():
    from icao9303.cli import render

    assert render({"a": 1, "bb": [1, 2], "c": {"d": None}, "e": [{"f": True}]}) == [
        "a   1", "bb  1, 2", "c", "  d  -", "e", "  [1]", "    f  yes"]


@settings(FUZZ, max_examples=60)
@given(name=st.sampled_from(sorted(DUMP_SAMPLES)), data=st.data())
def test_lds_dump_mutated_files_never_trace(tmp_path_factory, name, data):
    """Whatever the bytes, `cancuoc lds` prints a dump (0) or a clean error (1), never a traceback."""
    import contextlib
    import io

    raw = bytearray(DUMP_SAMPLES[name])
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("fuzz") / "f.bin"
    path.write_bytes(bytes(raw[: data.draw(st.integers(1, len(raw)))]))
    args = ["lds", str(path), *data.draw(st.sampled_from([[], ["--json"], ["--tlv"]]))]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    assert code in (0, 1) and "Traceback" not in err.getvalue()
    if "--json" in args:
        json.loads(out.getvalue())
