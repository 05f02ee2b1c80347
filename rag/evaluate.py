"""`pathwise evaluate rag`: retrieval quality, refusals and latency on rag/eval/questions.yaml.

- hit@1, hit@5 and MRR@10 for vector, full-text and hybrid retrieval over the section chunks,
  filtered to the question's course (course preview) and catalog-wide, and
  for the baseline the issue names: plain dense search over fixed 200-word windows (a window hits
  when it overlaps the expected section of the expected module).
- Refusals: share of out-of-scope questions refused and of in-scope questions wrongly refused at
  the configured `rag_min_similarity`, the threshold this set would choose (max out-of-scope
  refusals with at most 5% in-scope refused), and a 2-fold cross-validated estimate of the rates
  that choice gives on questions it was not tuned on.
- Answer latency (the whole `ask`, offline backend): p50 / p95 / p99.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pathwise.settings import Settings, get_settings
from rag.content import Document, fixed_word_chunks, load_documents

QUESTIONS = Path(__file__).parent / "eval" / "questions.yaml"
MAX_WRONG_REFUSALS = 0.05


@dataclass
class Question:
    q: str
    course_id: str
    module: str
    section: str


def load_questions(path: Path = QUESTIONS) -> tuple[list[Question], list[str]]:
    data = yaml.safe_load(path.read_text())
    return [Question(**x) for x in data["in_scope"]], list(data["out_of_scope"])


def rank_of(hits: list[bool]) -> int | None:
    """1-based rank of the first hit, or None."""
    return next((i for i, h in enumerate(hits, 1) if h), None)


def retrieval_metrics(ranks: list[int | None]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 from first-hit ranks (None = not in the top 10). All in [0, 1]."""
    n = len(ranks)
    return {
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= 10) / n,
    }


def choose_threshold(
    in_scope: list[float], out_scope: list[float], max_wrong: float = MAX_WRONG_REFUSALS
) -> float:
    """The similarity threshold that best separates the two sets: most out-of-scope refused minus
    in-scope wrongly refused, with at most `max_wrong` of in-scope refused. Among equally good
    thresholds the middle one, for a margin on both sides."""
    values = sorted({*in_scope, *out_scope})
    candidates = [(a + b) / 2 for a, b in pairwise(values)] or values
    scored = []
    for t in candidates:
        rates = refusal_rates(in_scope, out_scope, t)
        if rates["in_scope_wrongly_refused"] <= max_wrong:
            scored.append((rates["out_of_scope_refused"] - rates["in_scope_wrongly_refused"], t))
    if not scored:
        return round(float(min(in_scope)), 4)
    best = max(v for v, _ in scored)
    ties = [t for v, t in scored if v == best]
    return round(float(ties[len(ties) // 2]), 4)


def refusal_rates(in_scope: list[float], out_scope: list[float], t: float) -> dict[str, float]:
    return {
        "out_of_scope_refused": sum(s < t for s in out_scope) / len(out_scope),
        "in_scope_wrongly_refused": sum(s < t for s in in_scope) / len(in_scope),
    }


def _percentiles(ms: list[float]) -> dict[str, float]:
    qs = np.percentile(ms, [50, 95, 99])
    return {"p50_ms": float(qs[0]), "p95_ms": float(qs[1]), "p99_ms": float(qs[2])}


def baseline_ranks(
    docs: list[Document], questions: list[Question], settings: Settings, cache: Path
) -> dict[str, list[int | None]]:
    """Dense search over fixed 200-word windows (no structure, no context header)."""
    from rag.embeddings import embedding_function

    func = embedding_function(settings)
    windows = [
        (d.course_id, d.module, text, sections)
        for d in docs
        for text, sections in fixed_word_chunks(d, 200)
    ]
    key = hashlib.sha256(
        repr((func.ndims(), getattr(func, "name", ""), [w[2] for w in windows])).encode()
    ).hexdigest()[:16]
    path = cache / f"baseline-fixed200-{key}.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        vectors = np.asarray(func.compute_source_embeddings([w[2] for w in windows]), np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    qv = np.asarray(func.compute_query_embeddings([q.q for q in questions]), np.float32)
    courses = np.array([w[0] for w in windows])
    ranks: dict[str, list[int | None]] = {"course": [], "catalog": []}
    for q, v in zip(questions, qv, strict=True):
        sims = vectors @ v
        for scope in ranks:
            masked = np.where(courses == q.course_id, sims, -2.0) if scope == "course" else sims
            top = np.argsort(-masked)[:10]
            hits = [
                windows[i][0] == q.course_id
                and windows[i][1] == q.module
                and q.section in windows[i][3]
                for i in top
            ]
            ranks[scope].append(rank_of(hits))
    return ranks


def evaluate(
    content: list[str] | None = None, settings: Settings | None = None, baseline: bool = True
) -> dict[str, Any]:
    """Run the whole evaluation on the index under settings.home (build it first)."""
    from rag.api import ask
    from rag.retrieve import get_retriever

    s = settings or get_settings()
    questions, out_of_scope = load_questions()
    retriever = get_retriever(s)

    report: dict[str, Any] = {"questions": len(questions), "out_of_scope": len(out_of_scope)}
    # "course": filtered to the question's course (course preview); "catalog": all courses.
    modes: dict[str, dict[str, dict[str, float]]] = {"course": {}, "catalog": {}}
    misses: list[dict[str, Any]] = []
    for scope in modes:
        for mode in ("vector", "fts", "hybrid"):
            ranks = []
            for q in questions:
                ps = retriever.search(
                    q.q, k=10, mode=mode, course_id=q.course_id if scope == "course" else None
                )
                r = rank_of(
                    [
                        p.course_id == q.course_id
                        and p.module == q.module
                        and p.section == q.section
                        for p in ps
                    ]
                )
                ranks.append(r)
                if mode == "hybrid" and scope == "course" and r != 1:
                    top = ps[0] if ps else None
                    misses.append(
                        {
                            "q": q.q,
                            "rank": r,
                            "expected": f"{q.module} > {q.section}",
                            "got": f"{top.module} > {top.section}" if top else None,
                        }
                    )
            modes[scope][mode] = retrieval_metrics(ranks)
    if baseline:
        docs = list(load_documents(content or [str(s.shared_data / "content")]))
        base = baseline_ranks(docs, questions, s, s.home / "rag_eval_cache")
        for scope in modes:
            modes[scope]["dense_fixed200_baseline"] = retrieval_metrics(base[scope])
    report["retrieval"] = modes
    report["hybrid_misses_at_1"] = misses

    # Refusals use the same signal as `ask`: the best cosine similarity among the top passages.
    # In-scope questions are asked of their own course (fewer passages: the harder case for
    # answering), out-of-scope ones of the whole catalog (more passages: harder for refusing).
    def strength(text: str, course_id: str | None = None) -> float:
        ps = retriever.search(text, k=s.rag_top_k, course_id=course_id)
        return max((p.similarity for p in ps), default=0.0)

    ins = [strength(q.q, q.course_id) for q in questions]
    outs = [strength(q) for q in out_of_scope]
    chosen = choose_threshold(ins, outs)
    folds = []
    for f in (0, 1):
        tr_i, te_i = ins[f::2], ins[1 - f :: 2]
        tr_o, te_o = outs[f::2], outs[1 - f :: 2]
        folds.append(refusal_rates(te_i, te_o, choose_threshold(tr_i, tr_o)))
    report["refusal"] = {
        "configured_threshold": s.rag_min_similarity,
        **refusal_rates(ins, outs, s.rag_min_similarity),
        "calibrated_threshold": chosen,
        "cv2_out_of_scope_refused": statistics.mean(f["out_of_scope_refused"] for f in folds),
        "cv2_in_scope_wrongly_refused": statistics.mean(
            f["in_scope_wrongly_refused"] for f in folds
        ),
        "in_scope_similarity_min": min(ins),
        "out_of_scope_similarity_max": max(outs),
    }

    # End-to-end answers with the offline backend; also checks the citation contract.
    latencies, uncited = [], 0
    ask(questions[0].q, settings=s, backend="extractive")  # warm-up: model and index loaded
    for text, course in [(q.q, q.course_id) for q in questions] + [(o, None) for o in out_of_scope]:
        t0 = time.perf_counter()
        a = ask(text, course, settings=s, backend="extractive")
        latencies.append((time.perf_counter() - t0) * 1000)
        ids = {p.chunk_id for p in a.passages}
        if not a.refused and (not a.citations or any(c.chunk_id not in ids for c in a.citations)):
            uncited += 1
    report["answers"] = {**_percentiles(latencies), "answers_breaking_citation_rule": uncited}
    report["embedding_model"] = getattr(retriever.func, "name", type(retriever.func).__name__)
    return report


def metric_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as ml.evaluations rows ({method, metric, k, value})."""
    rows = []
    flat = {
        f"{method}/{scope}": m
        for scope, methods in report["retrieval"].items()
        for method, m in methods.items()
    }
    for method, m in flat.items():
        rows += [
            {"method": method, "metric": "hit", "k": 1, "value": m["hit@1"]},
            {"method": method, "metric": "hit", "k": 5, "value": m["hit@5"]},
            {"method": method, "metric": "mrr", "k": 10, "value": m["mrr@10"]},
        ]
    r = report["refusal"]
    rows += [
        {
            "method": "extractive",
            "metric": "out_of_scope_refused",
            "value": r["out_of_scope_refused"],
        },
        {
            "method": "extractive",
            "metric": "in_scope_wrongly_refused",
            "value": r["in_scope_wrongly_refused"],
        },
        {"method": "extractive", "metric": "min_similarity", "value": r["configured_threshold"]},
    ]
    a = report["answers"]
    rows += [
        {"method": "extractive", "metric": "latency_p50_ms", "value": a["p50_ms"]},
        {"method": "extractive", "metric": "latency_p95_ms", "value": a["p95_ms"]},
    ]
    return rows


def record(report: dict[str, Any], settings: Settings | None = None) -> str | None:
    """Store the figures in warehouse.ml.evaluations when a warehouse exists (connection held briefly)."""
    s = settings or get_settings()
    if not s.warehouse_path.exists():
        return None
    from ml.results import record_evaluation
    from pathwise.warehouse import connect

    with connect(settings=s) as con:
        return record_evaluation(
            con,
            kind="rag",
            dataset="content",
            model_version=report["embedding_model"],
            rows=metric_rows(report),
            params={
                "questions": report["questions"],
                "out_of_scope": report["out_of_scope"],
                "top_k": s.rag_top_k,
                "chunking": "sections, <=220 words, context header",
            },
        )


def render(report: dict[str, Any]) -> str:
    """A short human-readable table."""
    lines = [f"{'scope':<9}{'method':<26}{'hit@1':>7}{'hit@5':>7}{'mrr@10':>8}"]
    for scope, methods in report["retrieval"].items():
        for method, m in methods.items():
            lines.append(
                f"{scope:<9}{method:<26}{m['hit@1']:>7.3f}{m['hit@5']:>7.3f}{m['mrr@10']:>8.3f}"
            )
    r, a = report["refusal"], report["answers"]
    lines += [
        "",
        f"refusals at min_similarity={r['configured_threshold']}: "
        f"out-of-scope refused {r['out_of_scope_refused']:.1%}, "
        f"in-scope wrongly refused {r['in_scope_wrongly_refused']:.1%}",
        f"threshold this set would choose: {r['calibrated_threshold']} "
        f"(2-fold CV: {r['cv2_out_of_scope_refused']:.1%} refused out-of-scope, "
        f"{r['cv2_in_scope_wrongly_refused']:.1%} in-scope wrongly refused)",
        f"answer latency (extractive): p50 {a['p50_ms']:.0f} ms, p95 {a['p95_ms']:.0f} ms, "
        f"p99 {a['p99_ms']:.0f} ms; answers breaking the citation rule: "
        f"{a['answers_breaking_citation_rule']}",
        f"{report['questions']} in-scope and {report['out_of_scope']} out-of-scope questions",
    ]
    return "\n".join(lines)
