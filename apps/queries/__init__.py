"""Data access for the app's pages: SQL over the published serving snapshot, cached per version.

One module per page (`control_tower`, `interventions`, `creator`, `content_gaps`, `learner`), on
top of `snapshot` (the connection, the cache, what every page shares).

The app never opens the warehouse (the nightly flow writes it); it reads the snapshot's Parquet files
through an in-memory DuckDB (`Snapshot.connect()`), one connection per snapshot version, a cursor
per query. Query results are cached with `st.cache_data` keyed on the snapshot version, so a new
publish is picked up on the next page load and old results are never mixed with new ones.

Scoping is done in SQL: instructor queries take the instructor's id and read only their courses,
with every group under `k` learners left out; learner queries take one `learner_key`.
"""
