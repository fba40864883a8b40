"""`helpdesk demo` has no mail server of its own: replies by email go to a local SMTP sink
(aiosmtpd, a dependency already) that keeps them in a Maildir under the instance folder. Nothing
leaves the machine, and a reply shows "sent" because it really was handed over by SMTP."""

from __future__ import annotations

import atexit
import socket
import subprocess
import sys
from pathlib import Path

from helpdesk.supervisor import _die_with_parent


def port_free(host: str, port: int) -> bool:
    """Can a server listen on host:port now? (Checked before anything is touched.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def start_sink(maildir: Path, wait_seconds: float = 10.0) -> tuple[str, subprocess.Popen[bytes]]:
    """An aiosmtpd process on a free loopback port writing to `maildir`; stops with this process."""
    import time

    host, port = "127.0.0.1", free_port()
    maildir.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{host}:{port}",
                             "-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    atexit.register(proc.terminate)
    deadline = time.monotonic() + wait_seconds
    while not _listening(host, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the demo's local mail sink (aiosmtpd) did not start")
        time.sleep(0.05)
    return f"smtp://{host}:{port}", proc
