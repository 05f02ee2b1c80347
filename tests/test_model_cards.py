"""Model cards are published with the results they describe: one card per model in service in
the snapshot of the shared test platform (a real nightly run, tests/_app_platform.py), naming the
version the snapshot's results came from and figures that agree with its tables. The dropout
card's gate lines are tested with the gate itself (tests/test_dropout.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb
import pytest
from _app_platform import served

from pathwise import snapshots

pytestmark = pytest.mark.slow
SECTIONS = (
    "**Intended use.**",
    "**Not for.**",
    "**Data and features.**",
    "**Evaluation.**",
    "**Limitations.**",
    "**Human oversight.**",
)


@pytest.fixture(scope="module")
def snap(
    tmp_path_factory, prefect_harness
) -> Iterator[tuple[snapshots.Snapshot, duckdb.DuckDBPyConnection]]:
    with served(tmp_path_factory):
        current = snapshots.require_current()
        con = current.connect()
        yield current, con
        con.close()


# The result table each model writes, by the model its card is about.
RESULTS = {"recommender": "recommendations", "dropout": "dropout_risk", "styles": "learning_styles"}


def test_each_model_in_service_has_its_card_with_every_section(snap):
    current, con = snap
    cards = {
        m: (v, card)
        for m, v, card in con.execute(
            "select model, model_version, card from model_cards"
        ).fetchall()
    }
    served = current.manifest["model_versions"]  # the models whose results the snapshot holds
    assert {"recommendations", "learning_styles"} <= set(served)
    assert {RESULTS[m] for m in cards} == set(served)
    for model, (version, card) in cards.items():
        assert version == served[RESULTS[model]]
        assert f"`{version}`" in card
        assert [card.index(s) for s in SECTIONS] == sorted(card.index(s) for s in SECTIONS)


def test_the_recommender_card_quotes_the_served_configuration(snap):
    _, con = snap
    card, model = con.execute(
        "select c.card, m.validation from model_cards c, recommendation_model m "
        "where c.model = 'recommender'"
    ).fetchall()[0]
    ndcg = json.loads(model)["ndcg"]
    assert ndcg and all(f"{name} {value:.3f}" in card for name, value in ndcg.items())
