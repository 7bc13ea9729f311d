"""kombu's Redis transport, mended so a worker outlives a Redis outage while it runs a task.

When the worker's connection to Redis drops, Celery closes the broken connection twice:
first through `collect()`, which also lets go of the connection's address, then through
`close()`. kombu's Redis channel, while it waits on a BRPOP (always, in a worker), first
reads that pending reply; on a dead connection the read raises, the first close stops there
with the channel still open, and the second one then needs the address that is gone and
raises AttributeError, which Celery does not expect: the worker's main process exits
("Unrecoverable error") with the task it ran. Here the pending reply, lost anyway, is
given up quietly, so the first close completes.
"""

from __future__ import annotations

import contextlib
from queue import Empty
from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    def close(self) -> None:
        if self._in_poll:
            # _brpop_read() clears _in_poll whatever happens.
            with contextlib.suppress(Empty, *self.connection_errors):
                self._brpop_read()  # type: ignore[no-untyped-call]
        super().close()  # type: ignore[no-untyped-call]


class Transport(redis.Transport):
    Channel: Any = Channel
