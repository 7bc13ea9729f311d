"""The audit log: appends chain, nothing can be changed through the triggers, and `verify`
names the first record that was changed behind their back."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from bi_agent.cli import app as cli
from bi_agent.security import audit
from bi_agent.security.audit import Action, AuditEvent, AuditFilter, Outcome, RequestInfo
from bi_agent.security.permissions import Principal

REQUEST = RequestInfo(request_id="req-1", client_address="10.1.2.3", purpose="TREAT")


def principal(username: str = "nurse", roles: tuple[str, ...] = ("analyst",)) -> Principal:
    return Principal(uuid.uuid4(), username, frozenset(roles), frozenset({"datasets:read"}))


def append(engine: Engine, count: int, **fields: Any) -> list[audit.AuditRecord]:
    with engine.begin() as connection:
        return [audit.record(connection, AuditEvent(**{"action": "query", **fields})) for _ in range(count)]


def stored(engine: Engine) -> list[audit.AuditRecord]:
    with engine.connect() as connection:
        page = audit.list_records(connection, AuditFilter(), limit=1000, offset=0)
    return list(reversed(page.items))


def verify(engine: Engine) -> audit.BrokenLink | None:
    with engine.connect() as connection:
        return audit.verify(connection)


def tamper(engine: Engine, statement: str, **values: object) -> None:
    """Run `statement` as the table's owner (a superuser here) with the append-only triggers off."""
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE bi.audit_log DISABLE TRIGGER USER"))
        connection.execute(text(statement), values)
        connection.execute(text("ALTER TABLE bi.audit_log ENABLE TRIGGER USER"))


def test_records_chain_from_the_genesis_hash(engine: Engine) -> None:
    with engine.begin() as connection:
        first = audit.record_access(
            connection,
            principal(),
            REQUEST,
            action=Action.DATASET_ROWS,
            dataset="hospital_visits",
            columns=["patient_name", "mrn"],
            phi=True,
        )
        second = audit.record(connection, AuditEvent(action=Action.LOGIN, outcome=Outcome.FAILURE, username="eve"))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.occurred_at <= second.occurred_at
    assert (first.purpose, first.request_id, first.client_address) == ("TREAT", "req-1", "10.1.2.3")

    # The hash is SHA-256 of the documented canonical form: anyone can recompute it.
    row = stored(engine)[0]
    assert row == first
    payload = json.loads(audit.canonical(row))
    assert payload["occurred_at"].endswith("Z") and "hash" not in payload
    assert hashlib.sha256(audit.canonical(row)).hexdigest() == row.hash
    assert verify(engine) is None
    with engine.connect() as connection:
        assert audit.chain_head(connection) == audit.ChainHead(2, second.hash)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE bi.audit_log SET outcome = 'success'",
        "UPDATE bi.audit_log SET details = '{}' WHERE seq = 1",
        "DELETE FROM bi.audit_log WHERE seq = 1",
        "TRUNCATE bi.audit_log",
        "DELETE FROM bi.audit_chain",
        "TRUNCATE bi.audit_chain",
    ],
)
def test_the_owner_cannot_change_or_remove_records(engine: Engine, statement: str) -> None:
    append(engine, 2, outcome=Outcome.FAILURE)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        assert connection.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one()
        connection.execute(text(statement))
    assert len(stored(engine)) == 2
    assert verify(engine) is None


def test_a_record_edited_behind_the_trigger_is_named(engine: Engine) -> None:
    records = append(engine, 5, dataset="hospital_visits")
    tamper(engine, "UPDATE bi.audit_log SET dataset = 'other' WHERE seq = 3")
    broken = verify(engine)
    assert broken is not None
    assert (broken.seq, broken.record_id, broken.occurred_at) == (3, records[2].id, records[2].occurred_at)
    assert "changed" in broken.reason


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(engine: Engine) -> None:
    records = append(engine, 4, dataset="hospital_visits")
    forged = replace(records[1], dataset="other")
    forged_hash = hashlib.sha256(audit.canonical(forged)).hexdigest()
    tamper(engine, "UPDATE bi.audit_log SET dataset = 'other', hash = :hash WHERE seq = 2", hash=forged_hash)
    broken = verify(engine)
    # Record 2 fits its new hash; record 3 still points at the old one.
    assert broken is not None
    assert (broken.seq, broken.record_id) == (3, records[2].id)
    assert "previous hash" in broken.reason


def forge(entry: audit.AuditRecord, **changes: Any) -> audit.AuditRecord:
    changed = replace(entry, **changes)
    return replace(changed, hash=hashlib.sha256(audit.canonical(changed)).hexdigest())


def test_a_rewritten_chain_is_caught_by_its_anchor(engine: Engine) -> None:
    records = append(engine, 3, dataset="hospital_visits")
    anchor = audit.ChainHead(3, records[2].hash)
    assert verify(engine) is None
    with engine.connect() as connection:
        assert audit.verify(connection, anchor) is None

    # Everything from record 2 on rewritten, head included: the chain fits together again.
    second = forge(records[1], dataset="other")
    third = forge(records[2], prev_hash=second.hash)
    for entry in (second, third):
        tamper(
            engine,
            "UPDATE bi.audit_log SET dataset = :dataset, prev_hash = :prev, hash = :hash WHERE seq = :seq",
            dataset=entry.dataset,
            prev=entry.prev_hash,
            hash=entry.hash,
            seq=entry.seq,
        )
    with engine.begin() as connection:
        connection.execute(text("UPDATE bi.audit_chain SET last_hash = :hash"), {"hash": third.hash})
    assert verify(engine) is None
    with engine.connect() as connection:
        broken = audit.verify(connection, anchor)
    assert broken is not None and (broken.seq, broken.record_id) == (3, records[2].id)
    assert "anchored" in broken.reason


def test_an_anchor_past_the_head_means_removed_records(engine: Engine) -> None:
    records = append(engine, 2)
    with engine.connect() as connection:
        broken = audit.verify(connection, audit.ChainHead(5, records[1].hash))
    assert broken is not None and broken.seq == 3 and "removed" in broken.reason


def test_a_removed_record_is_named_by_the_gap(engine: Engine) -> None:
    records = append(engine, 5)
    tamper(engine, "DELETE FROM bi.audit_log WHERE seq = 2")
    broken = verify(engine)
    assert broken is not None
    assert (broken.seq, broken.record_id) == (3, records[2].id)
    assert "records 2 to 2 are missing" in broken.reason


def test_a_removed_tail_is_found_through_the_head(engine: Engine) -> None:
    append(engine, 5)
    tamper(engine, "DELETE FROM bi.audit_log WHERE seq >= 4")
    broken = verify(engine)
    assert broken is not None
    assert (broken.seq, broken.record_id) == (4, None)
    assert "removed" in broken.reason


def test_actions_are_stored_under_the_names_the_log_has_always_had(engine: Engine) -> None:
    assert sorted(Action) == sorted(
        [
            *("auth.login", "auth.logout", "auth.permission_denied", "user.create", "user.update", "user.roles"),
            *("role.create", "role.update", "role.delete", "audit.read", "dataset.rows", "dataset.profile"),
            *("query", "forecast", "model.train", "model.retrain", "export"),
        ]
    )
    with engine.begin() as connection:
        entry = audit.record(connection, AuditEvent(action=Action.DATASET_PROFILE))
    assert type(entry.action) is str
    assert stored(engine)[-1].action == "dataset.profile"
    assert verify(engine) is None


def test_a_rolled_back_record_leaves_no_trace(engine: Engine) -> None:
    append(engine, 1)
    with pytest.raises(RuntimeError), engine.begin() as connection:
        audit.record(connection, AuditEvent(action=Action.QUERY))
        raise RuntimeError("the change failed")
    append(engine, 1)
    assert [entry.seq for entry in stored(engine)] == [1, 2]
    assert verify(engine) is None


def test_concurrent_writers_keep_one_chain(engine: Engine) -> None:
    writers, each = 8, 15
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(number: int) -> None:
        try:
            start.wait()
            for _ in range(each):
                with engine.begin() as connection:
                    audit.record(connection, AuditEvent(action=Action.QUERY, details={"writer": number}))
        except BaseException as error:  # reported below, on the test's thread
            failures.append(error)

    threads = [threading.Thread(target=write, args=(number,)) for number in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    records = stored(engine)
    assert [entry.seq for entry in records] == list(range(1, writers * each + 1))
    assert all(later.occurred_at >= earlier.occurred_at for earlier, later in pairwise(records))
    assert verify(engine) is None


def test_text_is_cleaned_and_details_stay_flat(engine: Engine) -> None:
    with engine.begin() as connection:
        entry = audit.record(
            connection,
            AuditEvent(action=Action.QUERY, username="bad\x00name\n", purpose="x" * 500, details={"note": "a\tb"}),
        )
        with pytest.raises(ValueError, match="detail"):
            audit.record(connection, AuditEvent(action=Action.QUERY, details={"value": 1.5}))  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="detail"):
            audit.record(connection, AuditEvent(action=Action.QUERY, details={"nested": {"a": "b"}}))  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="action"):
            audit.record(connection, AuditEvent(action="DROP TABLE"))  # type: ignore[arg-type]
    assert entry.username == "badname"
    assert entry.purpose == "x" * audit.MAX_TEXT
    assert entry.details == {"note": "ab"}
    assert stored(engine) == [entry]
    assert verify(engine) is None


def test_list_filters_and_pages(engine: Engine) -> None:
    nurse, clerk = principal("nurse"), principal("clerk", ("viewer",))
    with engine.begin() as connection:
        for _ in range(3):
            audit.record_access(connection, nurse, REQUEST, action=Action.DATASET_ROWS, dataset="visits", phi=True)
        audit.record_access(connection, clerk, REQUEST, action=Action.QUERY, dataset="sales")
        audit.record_access(
            connection, clerk, REQUEST, action=Action.PERMISSION_DENIED, outcome=Outcome.DENIED, resource="GET /x"
        )
    with engine.connect() as connection:

        def seqs(**filters: object) -> list[int]:
            page = audit.list_records(connection, AuditFilter(**filters), limit=100, offset=0)  # type: ignore[arg-type]
            assert page.total == len(page.items)
            return [entry.seq for entry in page.items]

        assert seqs() == [5, 4, 3, 2, 1]
        assert seqs(user="nurse") == [3, 2, 1]
        assert seqs(user="NURSE") == [3, 2, 1]
        assert seqs(user=str(clerk.user_id)) == [5, 4]
        assert seqs(action=Action.QUERY) == [4]
        assert seqs(dataset="visits", phi=True) == [3, 2, 1]
        assert seqs(phi=False) == [5, 4]
        assert seqs(outcome=Outcome.DENIED) == [5]
        assert seqs(user="clerk", outcome=Outcome.SUCCESS) == [4]
        now = datetime.now(UTC)
        assert seqs(since=now - timedelta(minutes=5), until=now + timedelta(minutes=5)) == [5, 4, 3, 2, 1]
        assert seqs(since=now + timedelta(minutes=5)) == []
        # A time without a zone is UTC.
        assert seqs(until=(now - timedelta(minutes=5)).replace(tzinfo=None)) == []

        page = audit.list_records(connection, AuditFilter(), limit=2, offset=1)
        assert ([entry.seq for entry in page.items], page.total) == ([4, 3], 5)


def test_cli_verify_says_intact_or_names_the_broken_record(
    engine: Engine, database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.setenv("DATABASE_URL", database)
    runner = CliRunner()
    records = append(engine, 3)

    intact = runner.invoke(cli, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "intact: 3 records" in intact.output
    anchor = f"3:{records[-1].hash}"
    assert anchor in intact.output
    assert runner.invoke(cli, ["audit", "verify", "--anchor", anchor]).exit_code == 0
    assert runner.invoke(cli, ["audit", "verify", "--anchor", "3:nothex"]).exit_code == 2

    listed = runner.invoke(cli, ["audit", "list", "--limit", "2"])
    assert listed.exit_code == 0, listed.output
    assert "2 of 3 records" in listed.output

    tamper(engine, "UPDATE bi.audit_log SET outcome = 'denied' WHERE seq = 2")
    broken = runner.invoke(cli, ["audit", "verify", "--anchor", anchor])
    assert broken.exit_code == 1
    assert f"record 2 (id {records[1].id}" in broken.output
    assert "was changed" in broken.output
