"""Quality benchmarking: each course beside its 10 most similar catalog courses.

Similarity = the mean of the cosine similarity of the course texts (TF-IDF of title, description
and module titles) and the Jaccard overlap of their skills (`marts.course_skills`, accepted tags
included). Among the course and its peers it places: completion rate, average rating, rating
trend (the later half of its rated weeks against the earlier), median days to complete, the
share of its Q&A questions refused ("not covered by the course", rag.decision), and where
learners stop (the funnel step most drop-outs leave from, and how long that module is against
the peers' median module). Each figure gets a percentile band among the peers that have it and
a plain-language verdict. Refusals are also given per module (the module of the best passage a
question landed nearest to, `marts.course_module_questions`), each placed among the peers'
modules.

k-anonymous as everywhere (docs/privacy.md): a course's figures come from the k-anonymous
instructor marts and only for courses with at least k enrolments; a rating or its trend only
from k ratings (per half, for the trend); a median time only from k completions; the stop point
only from funnel steps of at least k learners; a refusal share only from k questions (a course's
or a module's: the log holds no learner, so this is a floor for a stable share, not anonymity).
Peers without enough learners are left out of the comparison of learners' figures (not of the
refusal shares); fewer than MIN_PEERS compared peers gives no band.

Written nightly (before publishing) to `ml.course_benchmarks` (one row per course) and
`ml.course_neighbours` (course x its 10 peers); the creator dashboard reads them from the
snapshot.
"""

from __future__ import annotations

import time

import duckdb
import numpy as np
import polars as pl
from sklearn.feature_extraction.text import TfidfVectorizer

from pathwise.results import replace_tables

PEERS = 10
MIN_PEERS = 3
BANDS = ((25, "bottom quartile"), (50, "below the median"), (75, "above the median"),
         (101, "top quartile"))  # fmt: skip
# (column, higher is better, how it reads in the verdict)
METRICS = (
    ("completion_rate", True, "completion"),
    ("avg_rating", True, "rating"),
    ("rating_trend", True, "rating trend"),
    ("median_days_to_complete", False, "time to complete"),
    ("qa_refusal_rate", False, "Q&A refusals"),
)
# Figures about questions, not learners: placed among every similar course with k questions,
# whether or not it has k learners (many ask before enrolling: the Q&A page is for that).
QUESTION_METRICS = {"qa_refusal_rate"}
WORSE_HALF = ("bottom quartile", "below the median")
# One module's refusals (`qa_refusals_per_module`: most refused first).
QA_MODULE = pl.Struct({"module_title": pl.String, "module_position": pl.Int32,
                       "questions": pl.Int32, "refused": pl.Int32, "refusal_rate": pl.Float64,
                       "percentile": pl.Float64, "band": pl.String})  # fmt: skip


def band(percentile: float | None) -> str | None:
    """The band of a percentile (0-100): bottom quartile .. top quartile."""
    if percentile is None:
        return None
    return next(name for upper, name in BANDS if percentile < upper)


def percentile(value: float | None, peers: list[float], higher_is_better: bool) -> float | None:
    """Share of peers (in %) the value does better than, ties counted half (50 = the middle)."""
    peers = [p for p in peers if p is not None and not np.isnan(p)]
    if value is None or np.isnan(value) or len(peers) < MIN_PEERS:
        return None
    sign = 1 if higher_is_better else -1
    better = sum(sign * value > sign * p for p in peers) + 0.5 * sum(value == p for p in peers)
    return round(100 * better / len(peers), 1)


def read_inputs(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, int]:
    """One row per course: its text, skills and k-anonymous figures; and the k they were built
    with."""
    k = con.sql("select max(k_anonymity) from marts.instructor_course_summaries").fetchall()[0][0]
    k = int(k or 0)
    frame = con.sql(
        f"""
        with modules as (
            select course_id, string_agg(module_title, '. ' order by module_position) as titles
            from marts.course_modules group by 1
        ),
        skills as (
            select course_id, list(distinct lower(skill_name)) as skills
            from marts.course_skills group by 1
        ),
        halves as (
            select course_id, avg_rating, rating_count,
                   row_number() over (partition by course_id order by period_week) as n,
                   count(*) over (partition by course_id) as weeks
            from marts.course_kpis where rating_count > 0
        ),
        trend as (
            select course_id,
                   sum(avg_rating * rating_count) filter (where n > weeks / 2)
                     / sum(rating_count) filter (where n > weeks / 2)
                   - sum(avg_rating * rating_count) filter (where n <= weeks / 2)
                     / sum(rating_count) filter (where n <= weeks / 2) as rating_trend,
                   least(sum(rating_count) filter (where n > weeks / 2),
                         sum(rating_count) filter (where n <= weeks / 2)) as half_ratings
            from halves group by 1
        ),
        days as (
            select course_id,
                   median(date_diff('hour', enrolled_at, ended_at) / 24.0) as median_days,
                   count(*) as completions
            from marts.learner_course_progress where status = 'completed' group by 1
        ),
        questions as (
            select course_id, sum(question_count) as questions, sum(refused_count) as refused
            from marts.course_module_questions group by 1
        ),
        stops as (
            select course_id, first_module_position, last_module_position, first_module_title,
                   learner_count,
                   row_number() over (partition by course_id
                                      order by dropped_count desc, step_number) as n
            from marts.instructor_funnel_steps where dropped_count > 0
        )
        select c.course_id, c.course_title, c.instructor_id,
               concat_ws('. ', c.course_title, c.course_description, m.titles) as text,
               coalesce(s.skills, []) as skills,
               coalesce(i.has_enough_learners, false) as enough,
               i.enrolment_count,
               case when i.has_enough_learners then i.completion_rate end as completion_rate,
               i.avg_rating,  -- the mart shows it only from k ratings
               case when t.half_ratings >= {k} then t.rating_trend end as rating_trend,
               case when d.completions >= {k} then d.median_days end as median_days_to_complete,
               st.first_module_position as stop_module_position,
               st.last_module_position as stop_last_module_position,
               st.first_module_title as stop_module_title,
               coalesce(q.questions, 0) as qa_questions,
               case when q.questions >= {k} then round(q.refused / q.questions, 4) end
                 as qa_refusal_rate
        from marts.courses c
        left join modules m using (course_id)
        left join skills s using (course_id)
        left join marts.instructor_course_summaries i using (course_id)
        left join trend t using (course_id)
        left join days d using (course_id)
        left join questions q using (course_id)
        left join stops st on st.course_id = c.course_id and st.n = 1
                          and st.learner_count >= {k} and i.has_enough_learners
        order by c.course_id
        """
    ).pl()
    return frame, k


def neighbours(frame: pl.DataFrame, peers: int = PEERS) -> pl.DataFrame:
    """course_id, rank, neighbour_course_id, similarity: each course's `peers` most similar."""
    texts = frame["text"].fill_null("").to_list()
    if len(texts) < 2:
        return pl.DataFrame(
            schema={
                "course_id": pl.String,
                "rank": pl.Int32,
                "neighbour_course_id": pl.String,
                "similarity": pl.Float64,
            }
        )
    X = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    text_sim = (X @ X.T).toarray()
    skills = [set(s) for s in frame["skills"].to_list()]
    vocab = {s: i for i, s in enumerate(sorted(set().union(*skills)))}
    S = np.zeros((len(skills), max(len(vocab), 1)))
    for i, ss in enumerate(skills):
        S[i, [vocab[s] for s in ss]] = 1
    inter = S @ S.T
    sizes = S.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - inter
    skill_sim = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    sim = (text_sim + skill_sim) / 2
    np.fill_diagonal(sim, -1)
    ids = frame["course_id"].to_list()
    rows = []
    for i, row in enumerate(sim):
        top = np.argsort(-row, kind="stable")[: min(peers, len(ids) - 1)]
        rows += [(ids[i], r + 1, ids[j], round(float(row[j]), 4)) for r, j in enumerate(top)]
    return pl.DataFrame(
        rows, schema={"course_id": pl.String, "rank": pl.Int32,
                      "neighbour_course_id": pl.String, "similarity": pl.Float64},
        orient="row",
    )  # fmt: skip


def benchmark(
    frame: pl.DataFrame,
    near: pl.DataFrame,
    module_minutes: pl.DataFrame,
    k: int,
    module_questions: pl.DataFrame | None = None,
):
    """One row per course: its figures, the peers' medians, percentiles, bands and a verdict.
    `module_questions`: course_id, module_title, module_position, question_count, refused_count
    (modules with at least k questions)."""
    refusals: dict[str, list[dict]] = {}
    if module_questions is not None:
        for r in module_questions.sort("course_id", "module_position", "module_title",
                                       nulls_last=True).iter_rows(named=True):  # fmt: skip
            refusals.setdefault(r["course_id"], []).append(
                {"module_title": r["module_title"], "module_position": r["module_position"],
                 "questions": r["question_count"], "refused": r["refused_count"],
                 "refusal_rate": round(r["refused_count"] / r["question_count"], 4)}
            )  # fmt: skip
    by_id = {r["course_id"]: r for r in frame.iter_rows(named=True)}
    peers_of = dict(near.group_by("course_id").agg("neighbour_course_id").iter_rows())
    minutes = {(c, p): m for c, p, m in module_minutes.iter_rows()}
    course_median = dict(
        module_minutes.group_by("course_id").agg(pl.col("duration_minutes").median()).iter_rows()
    )
    rows = []
    for cid, me in by_id.items():
        similar = [by_id[p] for p in peers_of.get(cid, [])]
        peers = [p for p in similar if p["enough"]]
        row = {"course_id": cid, "instructor_id": me["instructor_id"], "k_anonymity": k,
               "has_enough_learners": me["enough"], "peers_compared": len(peers)}  # fmt: skip
        for col, higher, _ in METRICS:
            about_questions = col in QUESTION_METRICS
            value = me[col] if me["enough"] or about_questions else None
            values = [p[col] for p in (similar if about_questions else peers) if p[col] is not None]
            pct = percentile(value, values, higher)
            row |= {col: value, f"peer_median_{col}": float(np.median(values)) if values else None,
                    f"{col}_percentile": pct, f"{col}_band": band(pct)}  # fmt: skip
        stop = me["stop_module_position"]
        ratio = None
        if stop is not None:
            own = minutes.get((cid, stop))
            peer_minutes = [course_median[p["course_id"]] for p in peers
                            if course_median.get(p["course_id"])]  # fmt: skip
            if own and peer_minutes:
                ratio = round(own / float(np.median(peer_minutes)), 2)
        peer_module_rates = [m["refusal_rate"] for p in similar
                             for m in refusals.get(p["course_id"], [])]  # fmt: skip
        modules = []
        for m in refusals.get(cid, []):
            pct = percentile(m["refusal_rate"], peer_module_rates, False)
            modules.append(m | {"percentile": pct, "band": band(pct)})
        modules.sort(key=lambda m: -m["refusal_rate"])  # stable: catalog order among equals
        row |= {"stop_module_position": stop, "stop_module_title": me["stop_module_title"],
                "stop_last_module_position": me["stop_last_module_position"],
                "stop_module_length_ratio": ratio, "qa_questions": me["qa_questions"],
                "qa_refusals_per_module": modules}  # fmt: skip
        row["verdict"] = verdict(row)
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("qa_refusals_per_module").cast(pl.List(QA_MODULE))
    )


def verdict(row: dict) -> str:
    """'completion in the bottom quartile of similar courses; learners stop at Module 3, which
    is 2x longer than its peers' modules' median.'"""
    if not row["has_enough_learners"]:
        return "Not enough learners yet to compare this course with similar ones."
    if row["peers_compared"] < MIN_PEERS:
        return "Too few similar courses with enough learners to compare with yet."
    parts = [
        f"{label} {'in the ' if 'quartile' in row[f'{col}_band'] else ''}"
        f"{row[f'{col}_band']} of similar courses"
        for col, _, label in METRICS
        if row[f"{col}_band"]
    ]
    first = row["stop_module_position"]
    last = row.get("stop_last_module_position", first)
    if first == 0 and last in (0, None):
        parts.append("most learners who stop do so before completing a module")
    elif first == 0:  # a funnel step merged to hold k learners: modules 0..last
        parts.append(f"learners stop most often before completing module {last + 1}")
    elif first is not None:
        stop = f"learners stop most often after module {first}"
        if row["stop_module_length_ratio"] and row["stop_module_length_ratio"] >= 1.5:
            stop += (
                f", which is {row['stop_module_length_ratio']:.1f}× longer than its peers' modules"
            )
        parts.append(stop)
    # Many refusals among similar courses: name the module most of them are about.
    most = next(iter(row.get("qa_refusals_per_module") or []), None)
    if most and most["refused"] and row.get("qa_refusal_rate_band") in WORSE_HALF:
        where = most["module_title"] or "no material"
        if most["module_position"]:
            where = f"module {most['module_position']}"
        parts.append(
            f"Q&A questions about {where} go unanswered most often "
            f"({most['refusal_rate']:.0%} of {most['questions']} refused)"
        )
    text = "; ".join(parts) or "No figure to compare yet."
    return text[0].upper() + text[1:] + "."


def compute_and_write(con: duckdb.DuckDBPyConnection) -> dict:
    """Compute every course's benchmark and replace `ml.course_benchmarks` and
    `ml.course_neighbours` in one transaction."""
    started = time.perf_counter()
    frame, k = read_inputs(con)
    near = neighbours(frame)
    module_minutes = con.sql(
        "select course_id, module_position, duration_minutes from marts.course_modules "
        "where duration_minutes > 0"
    ).pl()
    module_questions = con.sql(
        "select course_id, module_title, module_position, question_count, refused_count "
        f"from marts.course_module_questions where question_count >= {k}"
    ).pl()
    result = benchmark(frame, near, module_minutes, k, module_questions)
    replace_tables(con, {"course_benchmarks": result, "course_neighbours": near})
    return {
        "courses": result.height,
        "with_verdict_bands": int(result["peers_compared"].ge(MIN_PEERS).sum())
        if result.height
        else 0,
        "seconds": round(time.perf_counter() - started, 1),
    }
