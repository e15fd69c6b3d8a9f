"""A private pcscd with vsmartcard-vpcd slots, for the demo, the benchmarks and the test fixtures.

pcscd 1.9.9 hard-codes its socket (/run/pcscd/pcscd.comm) and ignores PCSCLITE_CSOCK_NAME, so when we
are root it runs in a private mount namespace (``unshare --mount``) with a private directory bind-mounted
over /run/pcscd; clients find it through ``PCSCLITE_CSOCK_NAME``, which must be set in ``os.environ``
before pyscard establishes its first context (libpcsclite reads it once per process). The reader.conf.d
is private too (``pcscd -c DIR``), with one vpcd reader on two free TCP ports (slots 0 and 1). Stopped by
PID, never by name, so a system pcscd is never disturbed.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FRIENDLY_NAME = "Cancuoc Virtual PCD"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")


@dataclass
class PcscStack:
    """A running private pcscd: its process, socket, the vpcd ports and reader names of slots 0 and 1."""

    pid: int
    socket_path: Path
    ports: tuple[int, int]
    reader_names: tuple[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def port(self, slot: int) -> int:
        return self.ports[slot]

    def reader(self, slot: int) -> str:
        return self.reader_names[slot]

    def stop(self) -> None:
        if self.process is not None:
            stop_pcscd(self.process)


def pcsc_available() -> bool:
    """pcscd and the vpcd driver are installed (Makefile APT_PACKAGES)."""
    return VPCD_DRIVER.exists() and shutil.which("pcscd") is not None


def private_socket_path() -> Path:
    """A fresh private socket path, exported as PCSCLITE_CSOCK_NAME (call before any PC/SC context)."""
    path = Path(tempfile.mkdtemp(prefix="cancuoc-pcscd-")) / "run" / "pcscd.comm"
    os.environ["PCSCLITE_CSOCK_NAME"] = str(path)
    return path


def _free_port_pair() -> int:
    """A port p such that p and p+1 are both free (vpcd listens on both)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p >= 65535:
            continue
        try:
            for q in (p + 1, p):
                with socket.socket() as s2:
                    s2.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s2.bind(("0.0.0.0", q))  # noqa: S104 - vpcd binds every interface; we only probe
        except OSError:
            continue
        return p
    raise RuntimeError("no free TCP port pair for vpcd")


def reader_names() -> list[str]:
    """Names of the PC/SC readers (empty while pcscd is not up). pyscard is used only by
    `reader.transport` (DESIGN.md)."""
    from reader.errors import TransportError
    from reader.transport import list_readers

    try:
        return list_readers()
    except TransportError:
        return []


def wait_card_state(reader: str, present: bool, timeout: float = 10.0) -> None:
    """Block until pcscd reports a card present (or absent) in `reader` (see `reader.transport`)."""
    from reader.transport import wait_card_state as _wait

    _wait(reader, present, timeout)


def start_pcscd(workdir: Path, socket_path: Path | None = None, timeout: float = 15.0) -> PcscStack:
    """Start a private pcscd (see the module docstring) and wait until both vpcd readers are listed."""
    if not pcsc_available():
        raise RuntimeError("pcscd and vsmartcard-vpcd are required (Makefile APT_PACKAGES)")
    if socket_path is None:
        socket_path = Path(os.environ.get("PCSCLITE_CSOCK_NAME") or private_socket_path())
    conf = workdir / "reader.conf.d"
    conf.mkdir(parents=True, exist_ok=True)
    run_dir = socket_path.parent
    run_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port_pair()
    (conf / "vpcd").write_text(
        f'FRIENDLYNAME "{FRIENDLY_NAME}"\nDEVICENAME   /dev/null:0x{port:04X}\n'
        f"LIBPATH      {VPCD_DRIVER}\nCHANNELID    0x{port:04X}\n"
    )
    log_path = workdir / "pcscd.log"
    pcscd_cmd = f"exec pcscd -f -c {conf}"
    if os.geteuid() == 0 and shutil.which("unshare"):
        Path("/run/pcscd").mkdir(parents=True, exist_ok=True)
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               f"mount --bind {run_dir} /run/pcscd && {pcscd_cmd}"]
    else:  # fallback: the system socket (only one such pcscd at a time)
        cmd = ["sh", "-c", pcscd_cmd]
        socket_path = Path("/run/pcscd/pcscd.comm")
        os.environ["PCSCLITE_CSOCK_NAME"] = str(socket_path)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    names = (f"{FRIENDLY_NAME} 00 00", f"{FRIENDLY_NAME} 00 01")
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"pcscd exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        if socket_path.exists() and all(n in reader_names() for n in names):
            break
        if time.monotonic() > deadline:
            stop_pcscd(proc)
            raise RuntimeError(f"pcscd readers did not appear: {log_path.read_text()[-2000:]}")
        time.sleep(0.05)
    return PcscStack(proc.pid, socket_path, (port, port + 1), names, log_path, proc)


def stop_pcscd(proc: subprocess.Popen[bytes]) -> None:
    """Stop our pcscd by its PID: SIGTERM, then SIGKILL after 5 s."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
