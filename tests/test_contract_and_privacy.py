"""The contract's documentation and the privacy primitives (SQL and Python agree)."""

from __future__ import annotations

import random
import string

import duckdb
import pytest

from pathwise.contract import EVENT_TYPES, markdown_reference
from pathwise.privacy import install_pseudonym_key, pseudonym, redact, sql_pseudonym, sql_redact
from pathwise.settings import PROJECT_ROOT


def test_docs_match_the_contract():
    doc = (PROJECT_ROOT / "docs" / "events.md").read_text()
    assert markdown_reference() in doc, "regenerate with: python -m pathwise.contract"
    assert len(EVENT_TYPES) >= 19


@pytest.mark.parametrize("key", ["k", "a much longer secret key " * 5, "ключ-€"])
def test_sql_pseudonym_is_hmac_sha256(key):
    rng = random.Random(1)
    ids = ["".join(rng.choices(string.printable + "éü€", k=rng.randint(1, 40))) for _ in range(300)]
    con = duckdb.connect()
    install_pseudonym_key(con, key)
    con.execute("create table ids (user_id varchar)")
    con.executemany("insert into ids values (?)", [(i,) for i in ids])
    got = dict(
        con.execute(
            f"select user_id, {sql_pseudonym('user_id')} from ids cross join _pseudonym_pads"
        ).fetchall()
    )
    assert got == {i: pseudonym(i, key) for i in ids}
    assert len(set(got.values())) == len(ids)
    assert pseudonym("u1", key) != pseudonym("u1", key + "x")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("write to ada.l@example.co.uk today", "write to [email] today"),
        ("call +44 20 7946 0958!", "call [phone]!"),
        ("(555) 123-4567 or 555.123.4567", "[phone] or [phone]"),
        ("mobile 07700900123", "mobile [phone]"),
        ("from 192.168.10.254", "from [ip]"),
        # Not personal data: decimals, dates, versions, short numbers, ids.
        ("score 0.75 on 2026-01-05, v1.2.3, module 12, rec_20260105123456", None),
    ],
)
def test_redaction(text, want):
    want = text if want is None else want
    assert redact(text) == want
    assert (
        duckdb.connect().sql(f"select {sql_redact('$t')}", params={"t": text}).fetchall()[0][0]
        == want
    )
