"""Real HTTP servers on 127.0.0.1 for tests, and a flaky proxy to put between them.

The proxy is a plain TCP listener that reads one HTTP/1.1 request per connection and then,
by a seeded coin, does what a district office's link and its middleboxes do: drops the
connection before forwarding, forwards and then drops the answer (hq stored it, the kiosk
never heard), answers 502/503 itself or after forwarding, stalls past the client's timeout
and forwards anyway (the request lands late), forwards the request twice, or holds a copy
and replays it after a later request (reordering). The kiosk and hq talk real HTTP through
it; nothing in either is faked.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections import Counter

import uvicorn

FAULTS = ("drop", "lose_answer", "bad_gateway", "unavailable_after", "stall", "duplicate",
          "reorder")


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class Served:
    """An ASGI app served by uvicorn in a thread; :meth:`stop` and :meth:`start` again."""

    def __init__(self, app, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = None
        self._thread = None

    def start(self) -> Served:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None


class FlakyProxy:
    """A TCP proxy in front of ``upstream`` (host, port) that misbehaves ``rate`` of the time.

    Attributes:
        seen: How many times each fault (and ``"ok"``) happened.
    """

    def __init__(self, upstream_port: int, *, rate: float = 0.4, seed: int = 7,
                 stall_seconds: float = 1.5, faults=FAULTS) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.stall_seconds = stall_seconds
        self.faults = faults
        self.random = random.Random(seed)
        self.seen: Counter[str] = Counter()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._held: list[bytes] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> FlakyProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def cancel_connections() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(cancel_connections(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.run_until_complete(server.wait_closed())
            self._loop.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await reader.readexactly(length) if length else b""
        # One request per connection: the answer closes it, so each request is one coin.
        head = head.replace(b"Connection: keep-alive", b"Connection: close")
        return head + body

    async def _forward(self, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        if b"Connection: close" not in request:
            request = request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        writer.write(request)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await self._read_request(reader)
            if request is None:
                return
            fault = (self.random.choice(self.faults) if self.random.random() < self.rate
                     else "ok")
            self.seen[fault] += 1
            if self._held and fault != "reorder":
                # A request held back earlier arrives now, after a later one.
                late = self._held.pop(0)
                answer = await self._forward(request)
                await self._forward(late)
            elif fault == "drop":
                return
            elif fault == "bad_gateway":
                answer = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\n"
                          b"Connection: close\r\n\r\nbad gateway")
            elif fault == "stall":
                await asyncio.sleep(self.stall_seconds)
                answer = await self._forward(request)
            else:
                answer = await self._forward(request)
            if fault == "duplicate":
                answer = await self._forward(request)
            elif fault == "reorder":
                self._held.append(request)
            elif fault == "lose_answer":
                return
            elif fault == "unavailable_after":
                answer = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n"
                          b"Connection: close\r\n\r\nbusy")
            writer.write(answer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
