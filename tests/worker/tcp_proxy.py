"""A TCP proxy the fault tests put between a worker and a real server, to cut it off for a while.

`cut()` closes every connection through the proxy and refuses new ones (the port stays
reserved but nothing listens: clients get "connection refused", as from a stopped server);
`restore()` listens again on the same port. The upstream is a TCP address or a Unix socket
(the embedded PostgreSQL listens on one only).

`rate` (bytes a second per connection and direction, None for no limit) slows what flows
through, so that a job's stage lasts long enough for a test to act inside it however fast
the machine is; it can be changed while connections are open.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Self

LOOPBACK = "127.0.0.1"
CHUNK_BYTES = 1 << 16


class TcpProxy:
    def __init__(self, upstream: tuple[str, int] | str, rate: float | None = None) -> None:
        self.upstream = upstream
        self.rate = rate
        self.port = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()

    def __enter__(self) -> Self:
        self.restore()
        return self

    def __exit__(self, *_: object) -> None:
        self.cut()

    def restore(self) -> None:
        """Listen (again, on the same port) and forward every connection made."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="proxy-accept", daemon=True).start()

    def cut(self) -> None:
        """Drop every connection and stop listening until restore()."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = self._connect_upstream()
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(server)
                    return
                self._open.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), name="proxy-pump", daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.upstream)
            return server
        return socket.create_connection(self.upstream)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK_BYTES):
                target.sendall(data)
                if rate := self.rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        _close(source)
        _close(target)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
