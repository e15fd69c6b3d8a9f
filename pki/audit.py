"""The PKI workspace's append-only, hash-chained audit trail of key operations (JSON lines).

Each line is ``{"seq", "time", "op", "key", "details", "prev", "hash"}`` where ``hash`` is the SHA-256 of
the canonical JSON of the line without ``hash``; ``prev`` is the previous line's hash (64 zeros first).
Removing, reordering or editing any line breaks the chain, which `verify_audit_trail` detects.
Secrets never enter it: only labels, serials, digests and counts.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pki.errors import AuditError

GENESIS = "0" * 64


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class AuditTrail:
    """Appends entries to ``path`` under an exclusive file lock; each entry fsynced before returning."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _tail(self, fh) -> tuple[int, str]:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return 0, GENESIS
        block = 4096
        while True:  # read backwards until the last line is complete
            start = max(0, size - block)
            fh.seek(start)
            chunk = fh.read(size - start).rstrip(b"\n")
            cut = chunk.rfind(b"\n")
            if cut >= 0 or start == 0:
                last = json.loads(chunk[cut + 1 :])
                return int(last["seq"]), str(last["hash"])
            block *= 4

    def append(self, op: str, key: str | None = None, now: datetime | None = None, **details: Any) -> dict:
        with self._lock, open(self.path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                seq, prev = self._tail(fh)
                entry = {
                    "seq": seq + 1,
                    "time": (now or datetime.now(UTC)).astimezone(UTC).isoformat(),
                    "op": op,
                    "key": key,
                    "details": details,
                    "prev": prev,
                }
                entry["hash"] = hashlib.sha256(_canonical(entry)).hexdigest()
                fh.seek(0, os.SEEK_END)
                fh.write(_canonical(entry) + b"\n")
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]


def verify_audit_trail(path: str | os.PathLike[str]) -> int:
    """Check the whole chain; return the number of entries or raise `AuditError` naming the first bad line."""
    prev = GENESIS
    count = 0
    p = Path(path)
    if not p.exists():
        return 0
    for number, line in enumerate(p.read_bytes().splitlines(), start=1):
        try:
            entry = json.loads(line)
            claimed = entry.pop("hash")
        except (ValueError, KeyError, AttributeError) as exc:
            raise AuditError(f"audit line {number} is not a valid entry", line=number) from exc
        if entry.get("prev") != prev or entry.get("seq") != number:
            raise AuditError(f"audit line {number} breaks the chain", line=number)
        if hashlib.sha256(_canonical(entry)).hexdigest() != claimed:
            raise AuditError(f"audit line {number} was altered", line=number)
        prev = claimed
        count += 1
    return count


class AuditedKeyStore:
    """A `KeyStore` wrapper that writes every key operation to an `AuditTrail` before returning.

    Signing entries record the label, hash, scheme and the SHA-256 of the signed bytes (never the data's
    meaning beyond the ``context`` keywords the caller adds, never key material). CMAC/derive entries record
    the label and the SHA-256 of the input only.
    """

    def __init__(self, inner, trail: AuditTrail) -> None:
        self.inner = inner
        self.trail = trail

    def __repr__(self) -> str:
        return f"AuditedKeyStore({self.inner!r})"

    def generate_key_pair(self, label, spec, **context):
        public = self.inner.generate_key_pair(label, spec)
        self.trail.append("key.generate", label, spec=str(spec), **context)
        return public

    def public_key(self, label):
        return self.inner.public_key(label)

    def key_spec(self, label):
        return self.inner.key_spec(label)

    def has_key(self, label):
        return self.inner.has_key(label)

    def labels(self):
        return self.inner.labels()

    def sign(self, label, data, hash, scheme, **context):
        signature = self.inner.sign(label, data, hash, scheme)
        self.trail.append(
            "key.sign",
            label,
            hash=hash,
            scheme=scheme,
            data_sha256=hashlib.sha256(data).hexdigest(),
            **context,
        )
        return signature

    def generate_secret(self, label, **context):
        self.inner.generate_secret(label)
        self.trail.append("secret.generate", label, alg="AES-128", **context)

    def cmac(self, label, data, **context):
        out = self.inner.cmac(label, data)
        self.trail.append("secret.cmac", label, data_sha256=hashlib.sha256(data).hexdigest(), **context)
        return out

    def derive_key(self, label, context: bytes, length: int = 16, purpose: bytes = b"", **ctx):
        out = self.inner.derive_key(label, context, length, purpose)
        self.trail.append(
            "secret.derive",
            label,
            context_sha256=hashlib.sha256(context).hexdigest(),
            length=length,
            purpose=purpose.decode("latin-1"),
            **ctx,
        )
        return out

    def close(self) -> None:
        self.inner.close()
