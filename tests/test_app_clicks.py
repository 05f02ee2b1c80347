"""The app's own events: a learner known only by learner_key is keyed back to that learner_key by
ingestion's SQL, and only when the tag was made with the pseudonym key."""

from __future__ import annotations

import duckdb
import pytest

from pathwise.privacy import (
    app_user_id,
    install_pseudonym_key,
    pseudonym,
    sql_app_learner_key,
    sql_pseudonym,
)

KEY = "a-test-pseudonym-key-of-forty-chars-long"


def keyed(user_id: str, key: str = KEY) -> str:
    """The learner_key ingestion gives `user_id` (the same expression as classify.pseudonyms)."""
    con = duckdb.connect()
    install_pseudonym_key(con, key)
    expr = f"coalesce({sql_app_learner_key('$u')}, {sql_pseudonym('$u')})"
    return con.execute(f"select {expr} from _pseudonym_pads", {"u": user_id}).fetchall()[0][0]


def test_an_app_user_id_is_keyed_back_to_its_learner_key():
    learner_key = pseudonym("platform-user-42", KEY)
    assert keyed(app_user_id(learner_key, KEY)) == learner_key
    assert keyed("platform-user-42") == learner_key  # the platform's own id: unchanged


@pytest.mark.parametrize(
    "forge",
    [
        lambda lk: app_user_id(lk, "another key of forty characters, not ours"),
        lambda lk: app_user_id(lk, KEY)[:-1] + "0",
        lambda lk: f"pathwise-lk:{lk}",
        lambda lk: f"pathwise-lk:{lk}:{lk}",
    ],
)
def test_a_forged_app_user_id_is_keyed_like_any_other_id(forge):
    learner_key = pseudonym("platform-user-42", KEY)
    user_id = forge(learner_key)
    if user_id == app_user_id(learner_key, KEY):
        pytest.skip("the altered digit was already 0")
    assert keyed(user_id) == pseudonym(user_id, KEY) != learner_key
