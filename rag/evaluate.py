"""`pathwise evaluate rag`: retrieval and the graded answer on learner questions (rag.evalset).

Honest figures: the decision model (rag.decision) is trained on the **dev** split only and the
headline is the held-out **test** split; the split is by lesson, so no test question's lesson was
seen in training. A 5-fold cross-validation by lesson (training repeated on each 4/5) gives a
second estimate over all questions. Retrieval runs once per question and scope
(`Retriever.candidates`); everything else re-ranks those candidates.

- Retrieval, lesson level: hit@1, hit@5 and MRR@10 (a passage hits when its course and lesson
  answer the question) for hybrid, RRF alone, vector and full-text retrieval, in the question's
  course (course preview) and catalog-wide, beside plain dense search over fixed 200-word
  windows.
- The graded answer, each question asked as `ask` serves it (its course; out-of-scope questions
  without a course, of the whole catalog): shares of confident / closest / refused answers for
  in-scope and out-of-scope questions, beside the single-threshold rule shipped before (support
  = similarity + 0.3 x word coverage >= 0.652) and the same rule re-tuned on dev, both measured
  in the same run on the same split.
- Answer latency of the whole `ask` (offline backend), and the citation contract.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from pathwise.settings import Settings, get_settings
from rag.answer import ExtractiveBackend
from rag.api import ask
from rag.calibrate import fit, grades
from rag.content import Document, fixed_word_chunks, load_documents
from rag.decision import MODEL, features, read_model
from rag.evalset import Question, dev_test_split, folds, load_questions, rank_of, retrieval_metrics
from rag.retrieve import (
    RERANK_WEIGHTS,
    RRF_K,
    RRF_WEIGHTS,
    Candidates,
    Mode,
    Passage,
    candidate_count,
    get_retriever,
    rank,
    titled_text,
)
from rag.store import all_chunks
from rag.text import coverage

FOLDS = 5
MAX_WRONG_REFUSALS = 0.05  # acceptance limit: in-scope questions refused
MIN_OUT_OF_SCOPE_REFUSED = (
    0.90  # acceptance limit: out-of-scope questions without a confident answer
)
# The rule shipped before: refuse below support = best similarity + 0.3 x share of the question's
# words in the passage (and its titles); 0.652 was tuned on questions sharing the lessons' words.
OLD_COVERAGE_WEIGHT = 0.3
OLD_MIN_SUPPORT = 0.652
SCOPES = ("course", "catalog")
# The two lesson weights of the rerank (descriptor weight, LESSON_SECOND), chosen on dev; the
# evaluation repeats the choice in a 5-fold CV by lesson over this grid.
LESSON_GRID = tuple((w, s) for w in (0.0, 0.2, 0.3, 0.4) for s in (0.0, 0.2, 0.3, 0.4))


@dataclass
class EvalRun:
    """Every question retrieved once per scope: 'course' (its course; the whole catalog for a
    question without one) and 'catalog'. Decisions use the 'course' scope: what `ask` serves."""

    questions: list[Question]
    side: list[str]  # 'dev' | 'test' per question
    fold: list[int]  # CV fold per question
    cands: dict[str, list[Candidates]]
    top_k: int

    def idx(self, side: str | None = None, in_scope: bool | None = None) -> list[int]:
        return [
            i
            for i, q in enumerate(self.questions)
            if (side is None or self.side[i] == side)
            and (in_scope is None or q.in_scope == in_scope)
        ]

    def ranks(self, scope: str, mode: Mode, **kw: Any) -> list[int | None]:
        """First-hit rank of each question's lesson (None: not in the top 10; out of scope).
        `kw`: rerank weights for `rank`."""
        out: list[int | None] = []
        for q, c in zip(self.questions, self.cands[scope], strict=True):
            ps = rank(c, mode=mode, k=10, **kw) if q.in_scope else []
            out.append(rank_of([q.hits(p.course_id, p.module) for p in ps]))
        return out

    def served(self) -> list[tuple[Candidates, list[Passage]]]:
        """What `ask` sees for each question: the candidates and the top-k passages."""
        return [(c, rank(c, k=self.top_k)) for c in self.cands["course"]]


def retrieve_all(settings: Settings, questions: list[Question] | None = None) -> EvalRun:
    questions = load_questions() if questions is None else questions
    retriever = get_retriever(settings)
    n = candidate_count(settings.rag_top_k)
    return EvalRun(
        questions=questions,
        side=dev_test_split(questions),
        fold=folds(questions, FOLDS),
        cands={
            "course": [retriever.candidates(q.q, course_id=q.course_id, n=n) for q in questions],
            "catalog": [retriever.candidates(q.q, n=n) for q in questions],
        },
        top_k=settings.rag_top_k,
    )


def split_summary(run: EvalRun) -> dict[str, Any]:
    return {
        "questions": len(run.idx(in_scope=True)),
        "out_of_scope": len(run.idx(in_scope=False)),
        "lessons": len({q.unit for q in run.questions if q.in_scope}),
        "split": {
            "rule": "by lesson: lessons (and single out-of-scope questions) ordered by sha256 "
            "within course, dealt alternately dev/test",
            **{
                f"{side}{'' if ins else '_out_of_scope'}": len(run.idx(side, ins))
                for side in ("dev", "test")
                for ins in (True, False)
            },
        },
    }


def retrieval_report(run: EvalRun, base: dict[str, list[int | None]] | None) -> dict[str, Any]:
    """Lesson-level hit@1 / hit@5 / MRR@10 per scope and mode, on test (headline) and dev."""
    ranks = {
        scope: {mode: run.ranks(scope, mode) for mode in ("hybrid", "rrf", "vector", "fts")}
        for scope in SCOPES
    }
    out: dict[str, Any] = {}
    for side in ("test", "dev"):
        idx = run.idx(side, True)
        out["retrieval" if side == "test" else "retrieval_dev"] = {
            scope: {
                **{m: retrieval_metrics([rs[i] for i in idx]) for m, rs in ranks[scope].items()},
                **(
                    {"dense_fixed200_baseline": retrieval_metrics([base[scope][i] for i in idx])}
                    if base
                    else {}
                ),
            }
            for scope in SCOPES
        }
    out["retrieval_all"] = {
        scope: retrieval_metrics([ranks[scope]["hybrid"][i] for i in run.idx(None, True)])
        for scope in SCOPES
    }
    out["retrieval_cv5"] = lesson_weights_cv(run)
    return out


def lesson_weights_cv(run: EvalRun) -> dict[str, Any]:
    """Course-scoped hybrid hit@k with its two lesson weights chosen by 5-fold CV by lesson: on
    each 4/5 of the questions the LESSON_GRID point with the best hit@1 + hit@5, measured on the
    held-out fifth; the held-out ranks pooled. Says whether the shipped weights were luck."""
    ranks = {
        (w, s): run.ranks("course", "hybrid", weights=(*RERANK_WEIGHTS[:4], w), second=s)
        for w, s in LESSON_GRID
    }
    ins = run.idx(None, True)
    pooled: list[int | None] = []
    chosen = []
    for f in range(FOLDS):
        train = [i for i in ins if run.fold[i] != f]

        def fit(point: tuple[float, float], train: list[int] = train) -> float:
            m = retrieval_metrics([ranks[point][i] for i in train])
            return m["hit@1"] + m["hit@5"]

        best = max(LESSON_GRID, key=fit)  # the first of equals: grid order, smallest weights
        chosen.append(list(best))
        pooled += [ranks[best][i] for i in ins if run.fold[i] == f]
    return {**retrieval_metrics(pooled), "chosen": chosen}


def old_support(c: Candidates, passages: list[Passage]) -> float:
    """The support of the single-threshold rule shipped before (see OLD_MIN_SUPPORT)."""
    return max(
        (p.similarity + OLD_COVERAGE_WEIGHT * coverage(c.terms, titled_text(p)) for p in passages),
        default=0.0,
    )


def choose_threshold(in_scope: list[float], out_scope: list[float], max_wrong: float) -> float:
    """The single threshold refusing the most out-of-scope questions with at most `max_wrong` of
    the in-scope ones refused (the middle of the equally good ones)."""
    values = sorted({*in_scope, *out_scope})
    best: tuple[float, list[float]] = (-1.0, [])
    for t in [(a + b) / 2 for a, b in pairwise(values)] or values:
        if sum(s < t for s in in_scope) / len(in_scope) <= max_wrong:
            v = sum(s < t for s in out_scope) / len(out_scope)
            best = (v, [*best[1], t]) if v == best[0] else max(best, (v, [t]))
    return round(float(np.median(best[1])), 4) if best[1] else round(min(in_scope), 4)


def grade_shares(
    run: EvalRun, idx: Sequence[int], grade: Sequence[str], right: Sequence[bool]
) -> dict[str, float]:
    """Shares of each grade among in-scope and out-of-scope questions of `idx`. `right`: the
    answer cites a passage of the question's lesson (a `closest` answer that does is not a
    refusal; one that does not is counted apart)."""
    ins = [i for i in idx if run.questions[i].in_scope]
    outs = [i for i in idx if not run.questions[i].in_scope]

    def share(ids: list[int], g: str, cond: bool | None = None) -> float:
        hits = [i for i in ids if grade[i] == g and (cond is None or right[i] == cond)]
        return len(hits) / max(len(ids), 1)

    return {
        "in_scope_confident": share(ins, "confident"),
        "in_scope_confident_wrong_lesson": share(ins, "confident", False),
        "in_scope_closest": share(ins, "closest"),
        "in_scope_closest_right_lesson": share(ins, "closest", True),
        "in_scope_wrongly_refused": share(ins, "refused"),
        "out_of_scope_confident": share(outs, "confident"),
        "out_of_scope_closest": share(outs, "closest"),
        "out_of_scope_refused_outright": share(outs, "refused"),
        "out_of_scope_refused": 1 - share(outs, "confident"),  # no confident answer
    }


def cites_right_lesson(run: EvalRun, served: list[tuple[Candidates, list[Passage]]]) -> list[bool]:
    """Whether the extractive answer cites a passage of the question's lesson."""
    out = []
    for q, (c, ps) in zip(run.questions, served, strict=True):
        cited = ExtractiveBackend().answer(c.question, ps).cited if ps and q.in_scope else []
        out.append(any(q.hits(ps[n - 1].course_id, ps[n - 1].module) for n in cited))
    return out


def decision_report(run: EvalRun) -> dict[str, Any]:
    """The graded decision trained on dev, on test; the shipped model; the old rule, as shipped
    and re-tuned on dev; and the 5-fold CV by lesson of the training."""
    served = run.served()
    rows = [features(c, ps) for c, ps in served]
    right = cites_right_lesson(run, served)
    dev, test = run.idx("dev"), run.idx("test")
    y = [q.in_scope for q in run.questions]
    trained = fit([rows[i] for i in dev], [y[i] for i in dev])
    shipped = read_model(MODEL)
    support = [old_support(c, ps) for c, ps in served]
    retuned = choose_threshold(
        [support[i] for i in run.idx("dev", True)],
        [support[i] for i in run.idx("dev", False)],
        MAX_WRONG_REFUSALS / 2,
    )

    def rule(t: float) -> list[str]:
        return ["confident" if v >= t else "refused" for v in support]

    cv = [""] * len(rows)
    for f in range(FOLDS):
        train = [i for i in range(len(rows)) if run.fold[i] != f]
        m = fit([rows[i] for i in train], [y[i] for i in train])
        for i in range(len(rows)):
            if run.fold[i] == f:
                cv[i] = m.grade(m.probability(rows[i]))
    every = list(range(len(rows)))
    return {
        "model_trained_on_dev": vars(trained),
        "model_shipped": {**vars(shipped), "matches_dev_training": shipped == trained},
        "decision": {
            "test": grade_shares(run, test, grades(trained, rows), right),
            "dev": grade_shares(run, dev, grades(trained, rows), right),
            "test_shipped": grade_shares(run, test, grades(shipped, rows), right),
            "cv5": grade_shares(run, every, cv, right),
            "test_old_rule": grade_shares(run, test, rule(OLD_MIN_SUPPORT), right),
            "test_old_rule_retuned": grade_shares(run, test, rule(retuned), right),
        },
        "old_rule": {
            "coverage_weight": OLD_COVERAGE_WEIGHT,
            "shipped": OLD_MIN_SUPPORT,
            "retuned_on_dev": retuned,
        },
        "misses": misses(run, served, grades(trained, rows), test),
    }


def misses(
    run: EvalRun,
    served: list[tuple[Candidates, list[Passage]]],
    grade: list[str],
    idx: Sequence[int],
) -> list[dict[str, Any]]:
    """Questions of `idx` the decision got wrong: in-scope refused, out-of-scope confident."""
    out = []
    for i in idx:
        q, ps = run.questions[i], served[i][1]
        if (q.in_scope and grade[i] == "refused") or (not q.in_scope and grade[i] == "confident"):
            top = f"{ps[0].module} > {ps[0].section}" if ps else None
            out.append({"q": q.q, "in_scope": q.in_scope, "grade": grade[i], "top": top})
    return out


def percentiles(ms: list[float]) -> dict[str, float]:
    qs = np.percentile(ms, [50, 95, 99])
    return {"p50_ms": float(qs[0]), "p95_ms": float(qs[1]), "p99_ms": float(qs[2])}


def baseline_ranks(
    docs: list[Document], questions: list[Question], settings: Settings, cache: Path
) -> dict[str, list[int | None]]:
    """Dense search over fixed 200-word windows (no structure, no context header)."""
    from rag.embeddings import embedding_function

    func = embedding_function(settings)
    windows = [(d.course_id, d.module, text) for d in docs for text, _ in fixed_word_chunks(d, 200)]
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
            hits = [q.in_scope and q.hits(windows[i][0], windows[i][1]) for i in top]
            ranks[scope].append(rank_of(hits))
    return ranks


def answer_latency(run: EvalRun, settings: Settings) -> dict[str, float]:
    """End-to-end answers with the offline backend; also checks the citation contract."""
    ms, uncited = [], 0
    ask(run.questions[0].q, settings=settings, backend="extractive")  # warm-up: model and index
    for q in run.questions:
        t0 = time.perf_counter()
        a = ask(q.q, q.course_id, settings=settings, backend="extractive")
        ms.append((time.perf_counter() - t0) * 1000)
        ids = {p.chunk_id for p in a.passages}
        if not a.refused and (not a.citations or any(c.chunk_id not in ids for c in a.citations)):
            uncited += 1
    return {**percentiles(ms), "answers_breaking_citation_rule": uncited}


def evaluate(
    content: list[str] | None = None,
    settings: Settings | None = None,
    baseline: bool = True,
    latency: bool = True,
) -> dict[str, Any]:
    """Run the whole evaluation on the index under settings.home (build it first)."""
    s = settings or get_settings()
    run = retrieve_all(s)
    base = None
    if baseline:
        docs = list(load_documents(content or [str(s.shared_data / "content")]))
        base = baseline_ranks(docs, run.questions, s, s.rag_eval_cache_dir)
    report: dict[str, Any] = {
        **split_summary(run),
        **retrieval_report(run, base),
        **decision_report(run),
        "configured": {
            "rrf_weights": [round(w, 4) for w in RRF_WEIGHTS],
            "rrf_k": RRF_K,
            "rerank_weights": list(RERANK_WEIGHTS),
            "top_k": s.rag_top_k,
        },
    }
    if latency:
        report["answers"] = answer_latency(run, s)
    func = get_retriever(s).func
    report["embedding_model"] = getattr(func, "name", type(func).__name__)
    return report


def unknown_lessons(questions: list[Question], settings: Settings) -> list[str]:
    """`course/lesson` names of the questions that no indexed module carries (a typo there
    would count as a miss)."""
    indexed = {(c.course_id, c.module) for c in all_chunks(settings)}
    named = {(q.course_id, lesson) for q in questions for lesson in q.lessons}
    return sorted(f"{c}/{m}" for c, m in named - indexed)


def evaluate_served(folder: Path, settings: Settings | None = None) -> dict[str, Any]:
    """What is served, scored on a question set of one's own (rag/evalset.py's YAML format):
    lesson hit@k per scope and the shipped decision's grades over every question. No split:
    nothing is tuned on these questions, so all of them are test."""
    s = settings or get_settings()
    questions = load_questions(folder)
    if not questions:
        raise ValueError(f"no questions in {folder}/*.yaml (format: rag/evalset.py)")
    if unknown := unknown_lessons(questions, s):
        raise ValueError(
            f"{len(unknown)} lessons the index does not have (course_id/module title, as "
            f"`pathwise ask` cites them): {', '.join(unknown[:5])}"
        )
    run = retrieve_all(s, questions)
    served = run.served()
    rows = [features(c, ps) for c, ps in served]
    grade = grades(read_model(MODEL), rows)
    right = cites_right_lesson(run, served)
    ins, every = run.idx(None, True), list(range(len(questions)))
    hybrid = {scope: run.ranks(scope, "hybrid") for scope in SCOPES}  # what `ask` ranks
    return {
        "questions_from": str(folder),
        "questions": len(ins),
        "out_of_scope": len(questions) - len(ins),
        "retrieval": {
            scope: retrieval_metrics([ranks[i] for i in ins]) for scope, ranks in hybrid.items()
        },
        "decision": grade_shares(run, every, grade, right),
        "misses": misses(run, served, grade, every),
    }


def render_served(report: dict[str, Any]) -> str:
    """`evaluate_served`'s report as a short table."""
    d = report["decision"]
    lines = [
        f"{report['questions']} in-scope and {report['out_of_scope']} out-of-scope questions "
        f"from {report['questions_from']}, scored on what is served (no split, nothing tuned)",
        "",
        f"{'scope':<9}{'hit@1':>7}{'hit@5':>7}{'mrr@10':>8}",
        *(
            f"{scope:<9}{m['hit@1']:>7.3f}{m['hit@5']:>7.3f}{m['mrr@10']:>8.3f}"
            for scope, m in report["retrieval"].items()
        ),
        "",
        f"in-scope: {d['in_scope_confident']:.1%} confident, {d['in_scope_closest']:.1%} closest "
        f"material, {d['in_scope_wrongly_refused']:.1%} wrongly refused (limit "
        f"{MAX_WRONG_REFUSALS:.0%})",
        f"out-of-scope: {d['out_of_scope_refused']:.1%} without a confident answer (limit "
        f"{MIN_OUT_OF_SCOPE_REFUSED:.0%}), {d['out_of_scope_refused_outright']:.1%} refused "
        "outright",
    ]
    if report["misses"]:
        lines += ["", "decided wrongly (in scope and refused, out of scope and confident):"]
        lines += [f"  {m['grade']:<9} {m['q']}" for m in report["misses"]]
    return "\n".join(lines)


def metric_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as ml.evaluations rows ({method, metric, k, value}); the method names the
    retrieval mode, scope and split ('hybrid/course/test') or the decision and split
    ('graded/test', 'graded/cv5', 'old_rule/test', ...)."""
    rows: list[dict[str, Any]] = []
    for key, split in (("retrieval", "test"), ("retrieval_dev", "dev")):
        for scope, methods in report[key].items():
            for method, m in methods.items():
                for metric, k in (("hit@1", 1), ("hit@5", 5), ("mrr@10", 10)):
                    name = metric.split("@")[0]
                    rows.append(
                        {
                            "method": f"{method}/{scope}/{split}",
                            "metric": name,
                            "k": k,
                            "value": m[metric],
                        }
                    )
    cv = report["retrieval_cv5"]
    rows += [
        {"method": "hybrid/course/cv5", "metric": m.split("@")[0], "k": k, "value": cv[m]}
        for m, k in (("hit@1", 1), ("hit@5", 5), ("mrr@10", 10))
    ]
    names = {
        "test": "graded/test",
        "dev": "graded/dev",
        "cv5": "graded/cv5",
        "test_shipped": "graded_shipped/test",
        "test_old_rule": "old_rule/test",
        "test_old_rule_retuned": "old_rule_retuned/test",
    }
    for key, method in names.items():
        for metric, value in report["decision"][key].items():
            rows.append({"method": method, "metric": metric, "value": value})
    if "answers" in report:
        for metric in ("p50_ms", "p95_ms"):
            rows.append(
                {
                    "method": "extractive",
                    "metric": f"latency_{metric}",
                    "value": report["answers"][metric],
                }
            )
    return rows


def record(report: dict[str, Any], settings: Settings | None = None) -> str | None:
    """Store the figures in warehouse.ml.evaluations when a warehouse exists (connection held briefly)."""
    s = settings or get_settings()
    if not s.warehouse_path.exists():
        return None
    from pathwise.results import record_evaluation
    from pathwise.warehouse import connect

    with connect(settings=s) as con:
        return record_evaluation(
            con,
            kind="rag",
            dataset="content/learner-questions",
            model_version=report["embedding_model"],
            rows=metric_rows(report),
            params={
                "questions": report["questions"],
                "out_of_scope": report["out_of_scope"],
                "split": report["split"],
                "decision_model": report["model_shipped"],
                "old_rule": report["old_rule"],
                "configured": report["configured"],
                "chunking": "sections, <=220 words, context header",
            },
        )


def render_decision(name: str, d: dict[str, float]) -> str:
    return (
        f"{name:<24}{d['in_scope_confident']:>7.1%}{d['in_scope_closest']:>8.1%}"
        f"{d['in_scope_closest_right_lesson']:>8.1%}{d['in_scope_wrongly_refused']:>8.1%}"
        f"{d['out_of_scope_confident']:>9.1%}{d['out_of_scope_closest']:>8.1%}"
        f"{d['out_of_scope_refused_outright']:>8.1%}{d['out_of_scope_refused']:>10.1%}"
    )


def render(report: dict[str, Any]) -> str:
    """A short human-readable table."""
    sp = report["split"]
    lines = [
        f"{report['questions']} in-scope learner questions over {report['lessons']} lessons "
        f"(dev {sp['dev']} / test {sp['test']}, split by lesson), {report['out_of_scope']} "
        f"out-of-scope (dev {sp['dev_out_of_scope']} / test {sp['test_out_of_scope']}); "
        "decision trained on dev only",
        "",
        "retrieval, lesson level",
        f"{'scope':<9}{'method':<26}{'test hit@1':>11}{'hit@5':>7}{'mrr@10':>8}"
        f"{'dev hit@1':>11}{'hit@5':>7}",
    ]
    for scope, methods in report["retrieval"].items():
        for method, m in methods.items():
            d = report["retrieval_dev"][scope][method]
            lines.append(
                f"{scope:<9}{method:<26}{m['hit@1']:>11.3f}{m['hit@5']:>7.3f}{m['mrr@10']:>8.3f}"
                f"{d['hit@1']:>11.3f}{d['hit@5']:>7.3f}"
            )
    for scope, m in report["retrieval_all"].items():
        lines.append(
            f"{scope:<9}{'hybrid, all questions':<26}{m['hit@1']:>11.3f}{m['hit@5']:>7.3f}"
            f"{m['mrr@10']:>8.3f}"
        )
    cv = report["retrieval_cv5"]
    lines.append(
        f"{'course':<9}{'hybrid, 5-fold CV':<26}{cv['hit@1']:>11.3f}{cv['hit@5']:>7.3f}"
        f"{cv['mrr@10']:>8.3f}  (lesson weights chosen per fold: {cv['chosen']})"
    )
    d, o = report["decision"], report["old_rule"]
    lines += [
        "",
        "graded answers (each question asked of its course)",
        f"{'':<24}{'in-scope: confident':>22}{'right':>9}{'refused':>8}"
        f"{'out-of-scope: confident':>24}{'refused':>8}{'no conf.':>10}",
        f"{'':<24}{'':>7}{'closest':>8}{'':>8}{'':>8}{'':>9}{'closest':>8}",
        render_decision("graded, test", d["test"]),
        render_decision("graded, 5-fold CV", d["cv5"]),
        render_decision("graded, dev", d["dev"]),
        render_decision("shipped model, test", d["test_shipped"]),
        render_decision(f"old rule {o['shipped']}, test", d["test_old_rule"]),
        render_decision(f"old rule {o['retuned_on_dev']}, test", d["test_old_rule_retuned"]),
        f"limits: in-scope refused <= {MAX_WRONG_REFUSALS:.0%}, out-of-scope without a "
        f"confident answer >= {MIN_OUT_OF_SCOPE_REFUSED:.0%}; shipped model "
        f"{'matches' if report['model_shipped']['matches_dev_training'] else 'DIFFERS FROM'} "
        "dev training (`python -m rag.calibrate` writes it)",
    ]
    if "answers" in report:
        a = report["answers"]
        lines.append(
            f"answer latency (extractive): p50 {a['p50_ms']:.0f} ms, p95 {a['p95_ms']:.0f} ms, "
            f"p99 {a['p99_ms']:.0f} ms; answers breaking the citation rule: "
            f"{a['answers_breaking_citation_rule']}"
        )
    return "\n".join(lines)
