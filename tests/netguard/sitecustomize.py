"""Nothing the tests start may reach outside this machine: the network guard.

`tests/conftest.py` puts this folder first on `PYTHONPATH`, so every Python process a
test starts (the `cutover` commands, Prefect servers and workers, pytest's own
workers) imports it at start-up, and the pytest process imports it from the conftest.
A connection or a name lookup for anything but this machine is refused on the spot
(an `OSError`, as if the network were down) and written to the file named by
`CUTOVER_NETGUARD_LOG`; the session fails if that file has a line. Telemetry that a
library swallows silently is caught all the same.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import traceback
from pathlib import Path
from typing import Any

_LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _local(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    name = str(host).strip("[]").split("%", 1)[0].lower()
    if name in _LOCAL_NAMES or name == socket.gethostname().lower():
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # a name to look up: DNS would leave the machine
    return address.is_loopback or address.is_unspecified


def _literal(host: Any) -> bool:
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _refuse(what: str, host: Any) -> None:
    """Write it down, then fail as a machine without a network would."""
    log = os.environ.get("CUTOVER_NETGUARD_LOG")  # read each time: a test may point it aside
    if log:
        where = [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack()[-8:-2]]
        row = {"pid": os.getpid(), "what": what, "host": str(host), "stack": where}
        with Path(log).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    message = f"network guard: {what} {host!r} would leave this machine"
    if what == "lookup" or _literal(host):
        raise socket.gaierror(socket.EAI_NONAME, message)
    raise OSError(101, message)


def install() -> None:
    """Wrap the socket module's way out (idempotent)."""
    if getattr(socket, "_cutover_netguard", False):
        return
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    sendto, getaddrinfo = socket.socket.sendto, socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            _refuse("connect", address[0])

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
        check(self, args[-1])
        return sendto(self, data, *args)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _local(host):  # an address needs no lookup: it is on its way out
            _refuse("connect" if _literal(host) else "lookup", host)
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = guarded_sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = guarded_getaddrinfo
    socket._cutover_netguard = True  # type: ignore[attr-defined]


if os.environ.get("CUTOVER_NETGUARD_LOG"):
    install()
