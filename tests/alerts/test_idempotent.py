"""One insert per dedupe key: the second pass to decide the same thing stores nothing and is told so."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from alerts.idempotent import insert_once
from monitor.core.db import write_session
from monitor.core.models import Alert, Checkpoint


def _alert(key: str, channel: str = "#a", **extra: object) -> Alert:
    return Alert(dedupe_key=key, channel=channel, source="demo", **extra)


def _count(engine: Engine, model: type[Alert] | type[Checkpoint]) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_a_second_insert_of_the_same_key_leaves_one_row_and_returns_false(engine: Engine) -> None:
    with Session(engine) as session:
        assert insert_once(session, _alert("k:1", "#first")) is True
        session.commit()
    with Session(engine) as session:
        assert insert_once(session, _alert("k:1", "#second")) is False
        session.commit()
    assert _count(engine, Alert) == 1
    with Session(engine) as session:
        assert session.exec(select(Alert.channel)).one() == "#first"


def test_the_lost_insert_leaves_the_callers_transaction_usable(engine: Engine) -> None:
    """Only the row is rolled back (a SAVEPOINT): what the caller wrote before and after it commits."""
    with Session(engine) as session:
        insert_once(session, _alert("k:taken"))
        session.commit()
    with write_session(engine) as session:
        session.add(_alert("k:before"))
        session.flush()
        assert insert_once(session, _alert("k:taken")) is False
        assert insert_once(session, _alert("k:after")) is True
    with Session(engine) as session:
        assert sorted(session.exec(select(Alert.dedupe_key)).all()) == ["k:after", "k:before", "k:taken"]


def test_other_unique_keys_are_named_by_the_caller(engine: Engine) -> None:
    with Session(engine) as session:
        assert insert_once(session, Checkpoint(name="c", value=1), key="name") is True
        session.commit()
    with Session(engine) as session:
        assert insert_once(session, Checkpoint(name="c", value=2), key="name") is False
        session.commit()
    assert _count(engine, Checkpoint) == 1


def test_an_integrity_error_that_is_not_the_key_is_raised(engine: Engine) -> None:
    """A row that refers to a mention that does not exist is a real error, not a lost race."""
    with Session(engine) as session, pytest.raises(IntegrityError):
        insert_once(session, _alert("k:orphan", mention_id=999_999))
    assert _count(engine, Alert) == 0
