"""Course Q&A speed: answer latency on a 100k-chunk index, and index build throughput.

1. Build throughput, end to end: the real lessons in ../shared/data/content parsed, chunked,
   embedded (ONNX MiniLM) and written, FTS index refreshed -> passages/s, and chunks/s counting
   every embedded row (passages + their sentences); wall and CPU seconds.
2. A 100k-chunk index: the real chunks (their sentences, the lessons' descriptors) repeated under many synthetic
   courses (text tagged per copy, vectors jittered and re-normalised), written in bulk with their
   vectors, then the FTS, scalar and HNSW indexes built -> chunks/s of the storage part alone.
3. Answer latency: `rag.ask` with the offline `extractive` backend over the evaluation questions
   (rag/eval/learner), catalog-wide and filtered to one course -> p50 / p95 / p99 and the grades
   given. Target p95 <= 300 ms.

The 100k index is cached under --work (default /tmp/pathwise-bench-rag) and reused.

    python -m benchmarks.rag [--chunks 100000] [--repeat 3] [--work /tmp/pathwise-bench-rag]
                             [--real-home PATHWISE_HOME] [--build-only]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pathwise.settings import SHARED_DATA, Settings

TARGET_P95_MS = 300
CONTENT = SHARED_DATA / "content"


def build_throughput(work: Path) -> dict:
    """Parse, chunk, embed and store the real content into an empty index.

    Wall time depends on what else the machine runs; CPU seconds (this process) less so."""
    from rag.content import chunk_document, load_documents, sentence_rows
    from rag.store import index_documents

    home = work / "real-home"
    shutil.rmtree(home, ignore_errors=True)
    s = Settings(home=home)
    started, cpu = time.perf_counter(), time.process_time()
    docs = list(load_documents([CONTENT]))
    summary = index_documents(docs, settings=s, progress=True)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    chunks = [c for d in docs for c in chunk_document(d)]
    sentences = sum(len(sentence_rows(c)) for c in chunks)
    return {
        "documents": len(docs),
        "passages": len(chunks),
        "sentences": sentences,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "passages_per_s": round(len(chunks) / seconds, 2),
        "chunks_per_s": round((len(chunks) + sentences) / seconds, 1),  # every embedded row
        "total_chunks_stored": summary["chunks_total"],
    }


def _jitter(vectors: list, rng: np.random.Generator) -> list:
    v = np.asarray(vectors, np.float32)
    v += rng.normal(0, 0.02, v.shape).astype(np.float32)
    return list(v / np.linalg.norm(v, axis=1, keepdims=True))


def build_large(work: Path, target: int, real_home: Path) -> tuple[Settings, dict]:
    """A `target`-chunk index (and its sentences) made from the real ones (cached)."""
    from rag.content import ABOUT_SUFFIX
    from rag.store import SENTENCES, TABLE, connect, open_table, refresh_indexes, sentence_table

    home = work / f"home-{target}"
    s = Settings(home=home)
    marker = home / "built.json"
    if marker.exists():
        add_vocabulary(s)  # an index cached before the vocabulary table existed
        return s, json.loads(marker.read_text())
    shutil.rmtree(home, ignore_errors=True)
    real = connect(Settings(home=real_home))
    src = real.open_table(TABLE).to_arrow().to_pylist()
    src_sent: dict[str, list[dict]] = {}
    for r in real.open_table(SENTENCES).to_arrow().to_pylist():
        src_sent.setdefault(r["chunk_id"], []).append(r)
    table, _, _ = open_table(s)
    sentences = sentence_table(s)
    assert table is not None
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    written = n_sent = 0
    copy = 0
    while written < target:
        tag = f"c{copy:04d}"
        # Copy 0 keeps the real course ids, so filtered questions still find their course.
        course = (lambda c: c) if copy == 0 else (lambda c, t=tag: f"{c}-{t}")
        part = src[: target - written]
        vecs = _jitter([r["vector"] for r in part], rng)
        rows = [
            {
                **r,
                "course_id": course(r["course_id"]),
                "chunk_id": f"{tag}/{r['chunk_id']}",
                "doc_id": f"{tag}/{r['doc_id']}",
                "search_text": r["search_text"] if copy == 0 else f"{r['search_text']} {tag}",
                "vector": v.tolist(),
            }
            for r, v in zip(part, vecs, strict=True)
        ]
        # a passage's sentences, and with a lesson's first passage its descriptors
        sent = [
            x
            for r in part
            for key in (r["chunk_id"], *([f"{r['doc_id']}{ABOUT_SUFFIX}"] * (r["position"] == 0)))
            for x in src_sent.get(key, [])
        ]
        svecs = _jitter([x["vector"] for x in sent], rng) if sent else []
        srows = [
            {
                **x,
                "sentence_id": f"{tag}/{x['sentence_id']}",
                "chunk_id": f"{tag}/{x['chunk_id']}",
                "doc_id": f"{tag}/{x['doc_id']}",
                "course_id": course(x["course_id"]),
                "vector": v.tolist(),
            }
            for x, v in zip(sent, svecs, strict=True)
        ]
        table.add(rows)
        if srows:
            sentences.add(srows)
        written += len(rows)
        n_sent += len(srows)
        copy += 1
    write_s = time.perf_counter() - started
    t0 = time.perf_counter()
    refresh_indexes(table, sentences)
    index_s = time.perf_counter() - t0
    info = {
        "chunks": table.count_rows(),
        "sentences": sentences.count_rows(),
        "write_s": round(write_s, 1),
        "index_s": round(index_s, 1),
        "storage_chunks_per_s": round(written / (write_s + index_s), 1),
        "indices": sorted(i.index_type for i in table.list_indices()),
    }
    marker.write_text(json.dumps(info))
    return s, info


def add_vocabulary(s: Settings) -> None:
    from rag.store import has_vocabulary, open_table, write_vocabulary

    if not has_vocabulary(s):
        write_vocabulary(open_table(s, create=False)[0])


def latency(s: Settings, repeat: int) -> dict:
    from rag.api import ask
    from rag.evalset import load_questions

    questions = load_questions()  # in-scope questions carry their course; out-of-scope most too
    ask(questions[0].q, settings=s, backend="extractive")  # load the model and open the table
    result = {}
    for label, course in (("catalog_wide", False), ("one_course", True)):
        ms, grades = [], {"confident": 0, "closest": 0, "refused": 0}
        for _ in range(repeat):
            for q in questions:
                a = ask(q.q, q.course_id if course else None, settings=s, backend="extractive")
                ms.append(a.latency_ms)
                grades[a.grade] += 1
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        result[label] = {
            "answers": len(ms),
            "grades": grades,
            "p50_ms": round(float(p50), 1),
            "p95_ms": round(float(p95), 1),
            "p99_ms": round(float(p99), 1),
            "meets_target": bool(p95 <= TARGET_P95_MS),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="Size of the large index.")
    parser.add_argument("--repeat", type=int, default=3, help="Passes over the questions.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pathwise-bench-rag"))
    parser.add_argument(
        "--build-only", action="store_true", help="Only measure index build throughput (step 1)."
    )
    parser.add_argument(
        "--real-home",
        type=Path,
        help="Reuse the index of the real content under this PATHWISE_HOME (skips step 1).",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    report: dict = {}
    real_home = args.real_home
    if real_home is None:
        report["build_real_content"] = build_throughput(args.work)
        print(json.dumps(report, indent=2))
        real_home = args.work / "real-home"
        if args.build_only:
            return
    s, info = build_large(args.work, args.chunks, real_home)
    report["large_index"] = info
    report["answer_latency_extractive"] = latency(s, args.repeat)
    report["settings"] = {k: v for k, v in asdict_settings(s).items() if k.startswith("rag_")}
    print(json.dumps(report, indent=2))


def asdict_settings(s: Settings) -> dict:
    return s.model_dump() if hasattr(s, "model_dump") else asdict(s)  # pydantic model


if __name__ == "__main__":
    main()
