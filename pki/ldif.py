"""ICAO PKD LDIF (RFC 2849) reading and writing: ds / crl / ml / dl branches, complete and delta files.

The ICAO PKD publishes DS certificates (``o=dsc``), CRLs (``o=crl``), master lists (``o=ml``) and deviation
lists (``o=dl``) as LDIF entries under ``c=XX,dc=data,dc=download,dc=pkd,dc=icao,dc=int``. Delta files add
``changetype: add|delete|modify`` records. The master-list attribute was renamed once
(``CscaMasterListData`` → ``pkdMasterListContent``; LESSONS): both are read, the new name is written.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from asn1crypto import crl as asn1crl
from asn1crypto import x509

from pki.errors import LDIFError

PKD_SUFFIX = "dc=data,dc=download,dc=pkd,dc=icao,dc=int"
MAX_LINE = 1 << 20  # one unfolded attribute value (a large master list is ~1 MB base64)
MAX_ENTRIES = 500_000

# attribute name (lower case, options stripped) -> object kind
ATTRIBUTE_KINDS = {
    "usercertificate": "ds",
    "cacertificate": "csca",
    "certificaterevocationlist": "crl",
    "pkdmasterlistcontent": "ml",
    "cscamasterlistdata": "ml",
    "pkddeviationlistcontent": "dl",
}


@dataclass
class LDIFEntry:
    """One LDIF record: its DN, change type (``add`` for content records) and attributes (raw values)."""

    dn: str
    line: int
    changetype: str = "add"
    attributes: dict[str, list[bytes]] = field(default_factory=dict)

    def values(self, name: str) -> list[bytes]:
        """Values of ``name`` (case-insensitive, attribute options like ``;binary`` ignored)."""
        want = name.lower()
        out: list[bytes] = []
        for key, vals in self.attributes.items():
            if key.split(";", 1)[0].lower() == want:
                out.extend(vals)
        return out

    @property
    def branch(self) -> str | None:
        """``dsc``, ``crl``, ``ml`` or ``dl`` from the DN's ``o=`` component."""
        for rdn in _split_dn(self.dn):
            key, _, value = rdn.partition("=")
            if key.strip().lower() == "o" and value.strip().lower() in ("dsc", "crl", "ml", "dl"):
                return value.strip().lower()
        return None

    def objects(self) -> list[tuple[str, bytes]]:
        """(kind, DER bytes) of every PKD object the entry carries: ds, csca, crl, ml, dl."""
        out = []
        for key, vals in self.attributes.items():
            kind = ATTRIBUTE_KINDS.get(key.split(";", 1)[0].lower())
            if kind is not None:
                out.extend((kind, v) for v in vals)
        return out


def _split_dn(dn: str) -> list[str]:
    parts, cur, escaped = [], [], False
    for ch in dn:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            cur.append(ch)
            escaped = True
        elif ch == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_ldif(data: bytes | str) -> list[LDIFEntry]:
    """Parse LDIF content or change records; `LDIFError` names the line of the first problem.

    Handles comments, folded lines (a leading space continues the previous line), ``::`` base64 values,
    ``version:`` lines, ``changetype:`` and ``-`` separators of modify records (their attributes are kept).
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:  # RFC 2849: LDIF is UTF-8; binary values travel as base64
            line = bytes(data)[: exc.start].count(b"\n") + 1
            raise LDIFError(f"LDIF line {line}: not UTF-8 text", line=line) from exc
    else:
        text = data
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith(" ") and logical and logical[-1][1] != "":
            start, prev = logical[-1]
            if len(prev) + len(raw) > MAX_LINE:
                raise LDIFError(f"LDIF line {start}: value longer than {MAX_LINE} characters", line=start)
            logical[-1] = (start, prev + raw[1:])
        elif raw.startswith("#"):
            continue
        else:
            logical.append((number, raw.rstrip("\r")))
    entries: list[LDIFEntry] = []
    current: LDIFEntry | None = None
    for number, line in logical:
        if line.strip() == "":
            current = None
            continue
        if line == "-":
            continue
        name, sep, rest = line.partition(":")
        if not sep or not name or " " in name.strip():
            raise LDIFError(f"LDIF line {number}: not an 'attribute: value' line", line=number)
        if rest.startswith(":"):
            try:
                value = base64.b64decode(rest[1:].strip(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise LDIFError(f"LDIF line {number}: bad base64 in {name}", line=number) from exc
        elif rest.startswith("<"):
            raise LDIFError(f"LDIF line {number}: URL values are not accepted", line=number)
        else:
            value = rest.strip().encode("utf-8")
        key = name.strip()
        if current is None:
            if key.lower() == "version":
                continue
            if key.lower() != "dn":
                raise LDIFError(f"LDIF line {number}: entry does not start with dn:", line=number)
            if len(entries) >= MAX_ENTRIES:
                raise LDIFError(f"LDIF line {number}: more than {MAX_ENTRIES} entries", line=number)
            try:
                dn = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise LDIFError(f"LDIF line {number}: dn is not UTF-8", line=number) from exc
            current = LDIFEntry(dn=dn, line=number)
            entries.append(current)
            continue
        low = key.lower()
        if low == "changetype":
            ct = value.decode("utf-8", "replace").strip().lower()
            if ct not in ("add", "delete", "modify", "moddn", "modrdn"):
                raise LDIFError(f"LDIF line {number}: unknown changetype {ct!r}", line=number)
            current.changetype = ct
            continue
        if low in ("add", "replace", "delete") and current.changetype == "modify":
            continue  # modify operation headers; the attribute lines that follow carry the values
        current.attributes.setdefault(key, []).append(value)
    return entries


def _escape_dn_value(value: str) -> str:
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;=' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(value) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _rfc4514(name: x509.Name) -> str:
    parts = []
    for rdn in reversed(list(name.chosen)):
        for atv in rdn:
            key = {
                "country_name": "C",
                "organization_name": "O",
                "organizational_unit_name": "OU",
                "common_name": "CN",
                "serial_number": "serialNumber",
                "locality_name": "L",
            }.get(atv["type"].native, atv["type"].dotted)
            parts.append(f"{key}={_escape_dn_value(str(atv['value'].native))}")
    return ",".join(parts)


def _fold(line: str, width: int = 76) -> str:
    if len(line) <= width:
        return line
    chunks = [line[:width]]
    rest = line[width:]
    while rest:
        chunks.append(" " + rest[: width - 1])
        rest = rest[width - 1 :]
    return "\n".join(chunks)


def pkd_entries_for(
    *,
    ds_certs: Sequence[x509.Certificate] = (),
    crls: Sequence[asn1crl.CertificateList] = (),
    master_lists: Sequence[bytes] = (),
    country: str = "VN",
) -> list[LDIFEntry]:
    """LDIF entries shaped like the ICAO PKD download (``o=dsc``, ``o=crl``, ``o=ml``)."""
    base = f"c={country},{PKD_SUFFIX}"
    entries: list[LDIFEntry] = []
    for cert in ds_certs:
        serial = format(cert.serial_number, "X")
        cn = _rfc4514(cert.subject)
        entries.append(
            LDIFEntry(
                dn=f"cn={_escape_dn_value(cn)}+sn={serial},o=dsc,{base}",
                line=0,
                attributes={
                    "pkdVersion": [b"1"],
                    "sn": [serial.encode()],
                    "cn": [cn.encode()],
                    "objectClass": [
                        b"top",
                        b"person",
                        b"organizationalPerson",
                        b"inetOrgPerson",
                        b"pkdDownload",
                    ],
                    "userCertificate;binary": [cert.dump()],
                },
            )
        )
    for crl in crls:
        cn = _rfc4514(crl.issuer)
        entries.append(
            LDIFEntry(
                dn=f"cn={_escape_dn_value(cn)},o=crl,{base}",
                line=0,
                attributes={
                    "pkdVersion": [b"1"],
                    "objectClass": [b"top", b"cRLDistributionPoint", b"pkdDownload"],
                    "certificateRevocationList;binary": [crl.dump()],
                },
            )
        )
    for i, ml in enumerate(master_lists, start=1):
        entries.append(
            LDIFEntry(
                dn=f"cn=CN\\=Master List Signer Vietnam\\,C\\={country}+sn={i},o=ml,{base}",
                line=0,
                attributes={
                    "pkdVersion": [b"1"],
                    "sn": [str(i).encode()],
                    "objectClass": [b"top", b"person", b"pkdMasterList", b"pkdDownload"],
                    "pkdMasterListContent": [ml],
                },
            )
        )
    return entries


def write_ldif(entries: Iterable[LDIFEntry]) -> str:
    """RFC 2849 text; binary or non-ASCII values base64 (``::``), lines folded at 76 characters."""
    out = ["version: 1", ""]
    for entry in entries:
        out.append(_fold(_attr("dn", entry.dn.encode("utf-8"))))
        if entry.changetype != "add":
            out.append(f"changetype: {entry.changetype}")
        for key, vals in entry.attributes.items():
            for v in vals:
                out.append(_fold(_attr(key, v)))
        out.append("")
    return "\n".join(out) + "\n"


def _attr(key: str, value: bytes) -> str:
    safe = all(32 <= b < 127 for b in value) and not value.startswith((b" ", b":", b"<")) and not value.endswith(b" ")
    if safe:
        return f"{key}: {value.decode('ascii')}"
    return f"{key}:: {base64.b64encode(value).decode('ascii')}"
