"""The LanceDB store of course chunks under `$PATHWISE_HOME/lancedb`.

Two tables whose schemas come from the configured embedding function (LanceDB embeds the source
column on add and the question on search, with the same function): `chunks` (section passages,
vector of `search_text` plus a full-text index) and `sentences` (each passage's sentences with
their own vectors, which match a question more sharply than a whole passage does, and each
lesson's descriptors under the chunk id `<doc_id>#lesson`: rag.content.about_rows). The function's name,
model and width live in the table's schema metadata; a different configured model means the
table is dropped and rebuilt, never mixed. Re-indexing compares each document's content hash with
the stored one and touches only documents that are new, changed or gone.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
from lancedb.embeddings import EmbeddingFunction
from lancedb.index import FTS, HnswSq
from lancedb.pydantic import LanceModel, Vector

from pathwise.settings import Settings, get_settings
from rag.content import Chunk, Document, about_rows, chunk_document, sentence_rows
from rag.embeddings import embedding_function, identity
from rag.text import terms

TABLE = "chunks"
SENTENCES = "sentences"  # each chunk's sentences with their own vectors (small-to-big retrieval)
# Every term of the passages with the number of passages holding it, and the row `""` holding
# the number of passages: IDF weights and typo correction at question time (rag.text).
VOCABULARY = "vocabulary"
ADD_BATCH = 2048  # rows written per add
EMBED_SLICE = 512  # texts embedded per call (progress granularity)
VECTOR_INDEX_MIN_ROWS = 50_000  # below this, exact search is fast enough and exact


def chunk_schema(func: EmbeddingFunction) -> type[LanceModel]:
    """The `chunks` table schema for one embedding function."""

    class ChunkRow(LanceModel):
        chunk_id: str
        doc_id: str
        doc_hash: str
        course_id: str
        course_title: str
        module: str
        section: str
        source: str
        position: int
        text: str
        search_text: str = func.SourceField()
        vector: Vector(func.ndims()) = func.VectorField()  # type: ignore[valid-type]

    return ChunkRow


def sentence_schema(func: EmbeddingFunction) -> type[LanceModel]:
    """The `sentences` table schema: one row per sentence, pointing at its chunk."""

    class SentenceRow(LanceModel):
        sentence_id: str
        chunk_id: str
        doc_id: str
        course_id: str
        text: str = func.SourceField()
        vector: Vector(func.ndims()) = func.VectorField()  # type: ignore[valid-type]

    return SentenceRow


def db_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).lancedb_dir


def connect(settings: Settings | None = None) -> lancedb.DBConnection:
    path = db_path(settings)
    path.mkdir(parents=True, exist_ok=True)
    return lancedb.connect(str(path))


def stored_identity(table: lancedb.table.Table) -> dict[str, Any] | None:
    """The embedding identity recorded in a table's schema metadata (None if absent)."""
    from lancedb.embeddings import get_registry

    raw = (table.schema.metadata or {}).get(b"embedding_functions")
    if not raw:
        return None
    conf = json.loads(raw)[0]
    try:
        func = get_registry().get(conf["name"]).create(**conf.get("model", {}))
    except (KeyError, TypeError, ValueError):
        return {"function": conf.get("name"), "model": conf.get("model"), "dims": None}
    return {**identity(func), "dims": table.schema.field("vector").type.list_size}


def open_table(
    settings: Settings | None = None, *, create: bool = True
) -> tuple[lancedb.table.Table | None, EmbeddingFunction, bool]:
    """The chunks table for the configured embedding function: (table, function, rebuilt).

    If the stored table was built with another model or width it is dropped (rebuilt=True).
    """
    s = settings or get_settings()
    func = embedding_function(s)
    db = connect(s)
    rebuilt = False
    names = db.list_tables().tables
    if TABLE in names:
        table = db.open_table(TABLE)
        if stored_identity(table) == identity(func) and SENTENCES in names:
            return table, func, False
        db.drop_table(TABLE)
        rebuilt = True
    if SENTENCES in names:
        db.drop_table(SENTENCES)
    if not create:
        return None, func, rebuilt
    db.create_table(SENTENCES, schema=sentence_schema(func))
    table = db.create_table(TABLE, schema=chunk_schema(func))
    return table, func, rebuilt


def sentence_table(settings: Settings | None = None) -> lancedb.table.Table:
    return connect(settings).open_table(SENTENCES)


def stored_hashes(table: lancedb.table.Table) -> dict[str, str]:
    """doc_id -> content hash of what the table holds."""
    if table.count_rows() == 0:
        return {}
    rows = table.search().select(["doc_id", "doc_hash"]).limit(None).to_arrow().to_pylist()
    return {r["doc_id"]: r["doc_hash"] for r in rows}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def index_documents(
    docs: Iterable[Document],
    *,
    settings: Settings | None = None,
    prune_prefixes: Iterable[str] = (),
    progress: bool = False,
) -> dict[str, Any]:
    """Add new and changed documents, delete changed and vanished ones; refresh the FTS index.

    `prune_prefixes`: doc_id prefixes (e.g. course folders) that these documents cover
    completely, so stored documents under them that were not seen are deleted.
    """
    table, func, rebuilt = open_table(settings)
    assert table is not None
    before = stored_hashes(table)
    seen: set[str] = set()
    changed: list[Document] = []
    for d in docs:
        seen.add(d.doc_id)
        if before.get(d.doc_id) != d.content_hash:
            changed.append(d)
    prefixes = tuple(prune_prefixes)
    gone = [
        doc_id
        for doc_id in before
        if doc_id not in seen and prefixes and doc_id.startswith(prefixes)
    ]
    stale = [d.doc_id for d in changed if d.doc_id in before] + gone
    sentences = sentence_table(settings)
    for start in range(0, len(stale), 200):
        ids = ", ".join(_quote(x) for x in stale[start : start + 200])
        table.delete(f"doc_id in ({ids})")
        sentences.delete(f"doc_id in ({ids})")
    chunks = [c for d in changed for c in chunk_document(d)]
    rows = [asdict(c) for c in chunks]
    _add_rows(table, func, rows, "search_text", "Embedding chunks", progress=progress)
    _add_rows(
        sentences,
        func,
        [r for c in chunks for r in sentence_rows(c)] + [r for d in changed for r in about_rows(d)],
        "text",
        "Embedding sentences",
        progress=progress,
    )
    if stale or rows or rebuilt or not table.list_indices() or not has_vocabulary(settings):
        refresh_indexes(table, sentences)
    return {
        "documents_seen": len(seen),
        "documents_added": sum(1 for d in changed if d.doc_id not in before),
        "documents_updated": sum(1 for d in changed if d.doc_id in before),
        "documents_deleted": len(gone),
        "documents_unchanged": len(seen) - len(changed),
        "chunks_written": len(rows),
        "chunks_total": table.count_rows(),
        "rebuilt_for_new_model": rebuilt,
        "embedding": identity(func),
        "path": str(db_path(settings)),
    }


def _add_rows(
    table: lancedb.table.Table,
    func: EmbeddingFunction,
    rows: list[dict],
    source: str,
    label: str,
    *,
    progress: bool,
) -> None:
    """Embed `rows[source]` with `func` and write the rows with their vectors.

    Embedding is the whole cost of indexing, so it is done here rather than by LanceDB per add:
    every distinct text once (lessons repeat lines), all texts sorted by length so each model
    batch pads to nearly the same length (sorting within one add of 256 rows left 40% of the
    sentence tokens as padding), in slices of EMBED_SLICE for the progress bar. LanceDB does not
    embed rows that arrive with a vector."""
    if not rows:
        return
    texts = sorted({r[source] for r in rows}, key=len)
    vectors: dict[str, list[float]] = {}
    with _progress(progress, label, len(texts)) as advance:
        for start in range(0, len(texts), EMBED_SLICE):
            part = texts[start : start + EMBED_SLICE]
            for text, v in zip(part, func.compute_source_embeddings(part), strict=True):
                vectors[text] = np.asarray(v, np.float32).tolist()
            advance(len(part))
    for start in range(0, len(rows), ADD_BATCH):
        table.add([{**r, "vector": vectors[r[source]]} for r in rows[start : start + ADD_BATCH]])


@contextmanager
def _progress(show: bool, label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar's `advance`, or a no-op."""
    if not show:
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def refresh_indexes(table: lancedb.table.Table, sentences: lancedb.table.Table) -> None:
    """Full-text index on `search_text` (rows added later are unindexed until this runs), scalar
    indexes for ids and course filters, HNSW vector indexes once a table is large; then
    `optimize()`: compaction, and new rows folded into the existing indexes."""
    if table.count_rows() == 0:
        return
    table.create_index("search_text", config=FTS(with_position=False), replace=True)
    table.create_scalar_index("chunk_id", replace=True)
    for t in (table, sentences):
        if t.count_rows() == 0:
            continue
        t.create_scalar_index("course_id", replace=True)  # course filters without a scan
        has_vector_index = any("vector" in i.columns for i in t.list_indices())
        if not has_vector_index and t.count_rows() >= VECTOR_INDEX_MIN_ROWS:
            # Built once; later loads are folded in by optimize() instead of a full rebuild.
            t.create_index("vector", config=HnswSq(distance_type="cosine"))
        t.optimize()
    write_vocabulary(table)


def write_vocabulary(table: lancedb.table.Table, batch: int = 20_000) -> None:
    """Replace the vocabulary with the passage frequency of every term of `table`'s passages
    (`search_text`: what is embedded and full-text indexed), read a batch of rows at a time."""
    df: Counter[str] = Counter()
    n = table.count_rows()
    for offset in range(0, n, batch):
        rows = table.search().select(["search_text"]).offset(offset).limit(batch).to_arrow()
        for text in rows.column("search_text").to_pylist():
            df.update(set(terms(text)))
    data = [{"term": "", "df": n}, *({"term": t, "df": c} for t, c in sorted(df.items()))]
    db = lancedb.connect(str(Path(table.uri).parent))  # the folder holding both tables
    mode = "overwrite" if VOCABULARY in db.list_tables().tables else "create"
    db.create_table(VOCABULARY, data=data, mode=mode)


def has_vocabulary(settings: Settings | None = None) -> bool:
    return VOCABULARY in connect(settings).list_tables().tables


def read_vocabulary(db: lancedb.DBConnection) -> dict[str, int]:
    """term -> number of passages holding it; `""` -> number of passages (see VOCABULARY)."""
    rows = db.open_table(VOCABULARY).to_arrow()
    return dict(zip(rows.column("term").to_pylist(), rows.column("df").to_pylist(), strict=True))


def all_chunks(settings: Settings | None = None) -> list[Chunk]:
    """Every stored chunk (without vectors), for evaluation and inspection."""
    table, _, _ = open_table(settings, create=False)
    if table is None:
        return []
    cols = [f for f in Chunk.__dataclass_fields__]
    rows = table.search().select(cols).limit(None).to_arrow().to_pylist()
    return [Chunk(**r) for r in rows]
