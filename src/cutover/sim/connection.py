"""The traffic simulator's lean keep-alive HTTP/1.1 connection to the estate."""

from __future__ import annotations

import asyncio


class TransportFailure(Exception):
    """The connection failed before a complete answer arrived."""


class Connection:
    """One keep-alive HTTP/1.1 connection to the estate, lean enough to outrun it.

    httpx's async pool costs more CPU per request than the estate itself once
    dozens of connections are open, which would make the simulator, not the
    estate, the bottleneck; this speaks just the HTTP the estate answers
    (JSON bodies with Content-Length).
    """

    def __init__(self, host: str, port: int, token: str | None, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._head = f"Host: {host}:{port}\r\nContent-Type: application/json\r\n".encode()
        if token:
            self._head += f"Authorization: Bearer {token}\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            return await asyncio.wait_for(self._post(path, body), self.timeout)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ValueError,
        ) as exc:
            self.close()
            raise TransportFailure(type(exc).__name__) from None

    async def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        request = (
            f"POST {path} HTTP/1.1\r\n".encode()
            + self._head
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self._writer.write(request)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self._reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
