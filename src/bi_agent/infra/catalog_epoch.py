"""The catalog epoch, as this process last heard it from PostgreSQL.

Migration 0009 moves one number, at commit, whenever data, a metric, a dataset's
columns, a user or a role changes, and announces it with NOTIFY. A thread here
LISTENs and keeps the latest value, so a request can tell whether what it cached is
still current without reading PostgreSQL.

`current` is the epoch's token (a fresh UUID at every change, so a restored backup
never meets answers cached before it), or None whenever the thread is not listening (before the first connect,
while PostgreSQL is unreachable, after stop): a change could go unheard then, so
callers must not trust anything kept under an epoch and go to PostgreSQL instead.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)

CHANNEL = "bi_catalog_epoch"
RETRY_SECONDS = 1.0
# How long one wait for a notification lasts: the bound on how late stop() is heard.
POLL_SECONDS = 0.5


class CatalogEpoch:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.current: str | None = None
        self._counter = 0
        self._lock = threading.Lock()

    def start(self) -> CatalogEpoch:
        self._thread = threading.Thread(target=self._listen_forever, name="catalog-epoch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.current = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait_until_listening(self, timeout: float) -> bool:
        """For tests and start-up: whether the thread heard the epoch within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.current is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.current is not None

    def catch_up(self) -> None:
        """Read the epoch now rather than wait for its notification.

        Called after this process changed the catalog (or saw a job finish) and before it
        answers, so the caller's next request cannot meet a reply kept from before the
        change; other processes hear of it a moment later, by NOTIFY.
        """
        if self.current is None:
            return  # not listening: nothing is trusted, so nothing can be stale
        try:
            with self._engine.connect() as connection:
                announced = connection.exec_driver_sql("SELECT epoch || ':' || token FROM bi.catalog_epoch").scalar()
        except SQLAlchemyError as error:  # the listener will hear it instead
            logger.warning("catalog epoch: could not read it (%s)", type(error).__name__)
            return
        if announced is not None:
            self._heard(str(announced))

    def _listen_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except (psycopg.Error, OSError) as error:
                # Unknown until heard again: a change may have been missed meanwhile.
                self.current = None
                logger.warning("catalog epoch: not listening (%s); retrying", type(error).__name__)
                self._stopping.wait(RETRY_SECONDS)
            except Exception:
                self.current = None
                logger.exception("catalog epoch: listener failed; retrying")
                self._stopping.wait(RETRY_SECONDS)

    def _listen(self) -> None:
        # A connection of its own, outside the pool: it stays in LISTEN for the process's life.
        raw = self._engine.raw_connection()
        connection = raw.driver_connection
        raw.detach()
        if not isinstance(connection, psycopg.Connection):
            raise TypeError("the catalog epoch needs a psycopg connection")
        try:
            connection.rollback()  # the pool's ping may have opened a transaction
            connection.autocommit = True
            # LISTEN before reading the value, so no change falls between the two.
            connection.execute(f"LISTEN {CHANNEL}")
            row = connection.execute("SELECT epoch || ':' || token FROM bi.catalog_epoch").fetchone()
            if row is None:
                raise psycopg.DataError("bi.catalog_epoch is empty; run `bi-agent migrate`")
            with self._lock:
                self._counter = 0
            self._heard(str(row[0]))
            while not self._stopping.is_set():
                for notification in connection.notifies(timeout=POLL_SECONDS):
                    self._heard(notification.payload)
        finally:
            self.current = None
            connection.close()

    def _heard(self, announced: str) -> None:
        # A notification queued before the first read may be older than what was read: the counter orders them.
        counter, _, token = announced.partition(":")
        with self._lock:  # the listener and catch_up may both hear the same change
            if int(counter) > self._counter:
                self._counter = int(counter)
                self.current = token
