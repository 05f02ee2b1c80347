"""Everything Pathwise holds about one learner, readable (`pathwise privacy export USER_ID`).

Walks the same registry as erasure (`stores.STORES`) and writes, into one folder and a zip of it:

    learner.json   who (user_id, learner_key), what each store holds of them (row counts), and
                   the parts people ask about first: consents, recommendations with their reasons
                   and each signal's contribution, dropout risk, learning style, nudges, what was
                   served to them (each list's items with reason, contributions and weights, where
                   and to whom it was shown)
    tables/*.csv   every row of theirs, one file per table (store.table), nothing left out

Snapshots are copies of the warehouse's marts and ML results, so they are exported from there.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from pathwise.rights.erase import resolve
from pathwise.rights.stores import STORES, Context, Rows
from pathwise.settings import Settings, get_settings
from pathwise.warehouse import open_connection

SERVED = "warehouse.raw.served_recommendations"
SERVED_SIGNALS = "warehouse.raw.served_recommendation_signals"  # nested into SERVED's rows
# learner.json's headline sections: (name, table, event types or None for every row)
HEADLINES = (
    ("consents", "warehouse.raw.events", ("consent_changed",)),
    ("recommendations", "warehouse.ml.recommendations", None),
    ("dropout_risk", "warehouse.ml.dropout_risk", None),
    ("learning_style", "warehouse.ml.learning_styles", None),
    ("profile", "warehouse.marts.learners", None),
    ("nudges", "warehouse.raw.events", ("nudge_sent", "nudge_opened", "nudge_clicked")),
    ("served_recommendations", SERVED, None),
)


def _plain(value: object) -> object:
    """A JSON value: JSON text parsed, everything else as JSON can hold it."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # timestamps, dates, decimals


def _with_signals(served: Rows, signals: Rows) -> Rows:
    """Each served item with its score by signal: {signal: contribution} and {signal: weight}."""
    by_rec: dict[str, Rows] = {}
    for s in signals:
        by_rec.setdefault(s["rec_id"], []).append(s)
    return [
        {
            **r,
            "contributions": {s["signal"]: s["contribution"] for s in by_rec.get(r["rec_id"], [])},
            "weights": {s["signal"]: s["weight"] for s in by_rec.get(r["rec_id"], [])},
        }
        for r in served
    ]


def _headlines(tables: dict[str, Rows]) -> dict[str, Rows]:
    out = {}
    for name, table, types in HEADLINES:
        rows = tables.get(table, [])
        if types:
            rows = [r for r in rows if r.get("event_type") in types]
        if table == SERVED:
            rows = _with_signals(rows, tables.get(SERVED_SIGNALS, []))
        out[name] = [{k: _plain(v) for k, v in r.items()} for r in rows]
    return out


def _write_csv(path: Path, rows: Rows) -> None:
    names = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, names)
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {
                    k: json.dumps(_plain(v)) if isinstance(v, list | dict | tuple) else v
                    for k, v in r.items()
                }
            )


def collect(user_id: str, settings: Settings | None = None) -> tuple[dict, dict[str, Rows]]:
    """(who, table -> rows) of one learner, from every store of the registry."""
    s = settings or get_settings()
    con = open_connection(vault=True, settings=s)
    try:
        subject, known = resolve(con, user_id, s.pseudonym_key.get_secret_value())
        ctx = Context(subject, con, s)
        tables: dict[str, Rows] = {}
        for store in STORES:
            tables.update(store.export(ctx))
    finally:
        con.close()
    who = {"user_id": user_id, "learner_key": subject.learner_key, "known": known}
    return who, tables


def export(user_id: str, out: Path, settings: Settings | None = None) -> Path:
    """Write the learner's data into folder `out` (created) and `out`.zip; returns the zip."""
    who, tables = collect(user_id, settings)
    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        if rows:
            _write_csv(out / "tables" / f"{name}.csv", rows)
    summary = {
        **who,
        "exported_at": datetime.now(UTC).isoformat(),
        "rows_per_table": {name: len(rows) for name, rows in tables.items()},
        **_headlines(tables),
    }
    (out / "learner.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return Path(shutil.make_archive(str(out), "zip", out))
