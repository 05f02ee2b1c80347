"""Creator dashboard · My courses: how the instructor's own courses do, and where learners stop.

Instructors only, and only their courses (`instructor_id` of the account). k-anonymous: no group
of fewer than k learners is shown or can be worked out from the figures together (the
`instructor_*` marts: weeks withheld with their complements, the funnel in steps of at least k).
k is the one the snapshot was built with; when `PATHWISE_K_ANONYMITY` asks for more, nothing
shows until the next build."""

import altair as alt
import pandas as pd
import streamlit as st

from apps import auth, ui
from apps.queries import creator as queries
from pathwise.settings import get_settings


def step_label(first: int, last: int) -> str:
    """A funnel step by the last module its learners completed (0: none yet)."""
    if first == last:
        return "No module yet" if first == 0 else f"Module {first}"
    return f"Up to module {last}" if first == 0 else f"Modules {first}–{last}"


BENCHMARKS = (  # column, label, format
    ("completion_rate", "Completion rate", ui.pct),
    ("avg_rating", "Average rating", lambda x: f"{ui.num(x, 2)} ★"),
    ("rating_trend", "Rating trend", lambda x: f"{x:+.2f} ★"),
    ("median_days_to_complete", "Median days to complete", lambda x: ui.num(x, 1)),
    ("qa_refusal_rate", "Q&A questions refused", ui.pct),
)


def benchmark_rows(b) -> list[dict]:
    """Your figure, the similar courses' median and the band, one row per figure."""

    def shown(x, fmt) -> str:
        return "–" if pd.isna(x) else fmt(x)

    return [
        {
            "Figure": label,
            "Your course": shown(b[col], fmt),
            "Similar courses (median)": shown(b[f"peer_median_{col}"], fmt),
            "Where it stands": None if pd.isna(b[f"{col}_percentile"]) else b[f"{col}_percentile"],
            "Band": "–" if pd.isna(b[f"{col}_band"]) else b[f"{col}_band"],
        }
        for col, label, fmt in BENCHMARKS
    ]


user = auth.require_role("instructor")
st.title("My courses")
snap = ui.require_snapshot()
version = snap.version
k = queries.published_k(version)
wanted = get_settings().k_anonymity
if k is None or k < wanted:
    built = "has no instructor figures" if k is None else f"was built with k = {k}"
    st.info(
        f"Figures are shown only for groups of at least {wanted} learners; this snapshot {built}. "
        "They show after the next nightly run.",
        icon=":material/lock:",
    )
    st.stop()
ui.snapshot_caption(snap, f"no group under {k} learners is shown or can be worked out")

summary = queries.course_summary(version, user.instructor_id)
if summary.empty:
    st.info(
        f"No courses in the catalog are linked to your instructor id ({user.instructor_id}). "
        "Ask an administrator to check your account.",
        icon=":material/info:",
    )
    st.stop()

shown = summary[summary["enough_learners"]]
enrolments = int(shown["enrolments"].sum()) if not shown.empty else 0
completions = int(shown["completions"].sum()) if not shown.empty else 0
rated = shown.dropna(subset=["avg_rating"])
m = st.columns(4)
m[0].metric("Courses", len(summary), border=True)
m[1].metric("Enrolments", f"{enrolments:,}", border=True)
m[2].metric(
    "Completion rate", ui.pct(completions / enrolments if enrolments else None), border=True
)
m[3].metric(
    "Average rating",
    f"{ui.num(rated['avg_rating'].mean(), 2)} ★" if not rated.empty else "–",
    border=True,
)

st.subheader("Course health")
st.dataframe(
    summary.drop(columns=["enough_learners", "course_id", "drops"]),
    hide_index=True,
    placeholder="–",
    column_config={
        "course_title": st.column_config.TextColumn("Course", width="large"),
        "enrolments": st.column_config.NumberColumn("Enrolments", format="localized"),
        "completions": st.column_config.NumberColumn("Completions", format="localized"),
        "completion_rate": st.column_config.ProgressColumn(
            "Completion", format="percent", min_value=0, max_value=1
        ),
        "drop_rate": st.column_config.NumberColumn("Dropped", format="percent"),
        "avg_rating": st.column_config.NumberColumn("Rating", format="%.2f ★"),
        "quiz_fail_share": st.column_config.NumberColumn(
            "Quiz fails", format="percent", help="Share of quiz attempts scoring below 50%"
        ),
    },
)
if not summary["enough_learners"].all():
    st.caption(f"Courses with fewer than {k} enrolments show no figures.")

weeks = queries.course_weekly(version, user.instructor_id)
weekly = weeks[~weeks["is_withheld"]]
st.subheader("Completion by enrolment week")
if weekly.empty:
    st.info(
        f"No enrolment week can be shown yet (fewer than {k} learners).", icon=":material/info:"
    )
else:
    # One course at a time: eight cohorts' lines on one chart are unreadable.
    week_names = weekly.drop_duplicates("course_id").set_index("course_id")["course_title"]
    week_course = st.selectbox(
        "Course", week_names.index.tolist(), format_func=week_names.get, key="weekly_course"
    )
    one = weekly[weekly["course_id"] == week_course]
    st.altair_chart(
        alt.Chart(one)
        .mark_line(point=alt.OverlayMarkDef(size=60))
        .encode(
            x=alt.X("period_week:T", title="Week of enrolment", axis=alt.Axis(format="%d %b")),
            y=alt.Y(
                "completion_rate:Q",
                title="Completed so far",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            tooltip=[
                alt.Tooltip("period_week:T", title="Week", format="%d %b %Y"),
                alt.Tooltip("enrolment_count:Q", title="Enrolments"),
                alt.Tooltip("completion_rate:Q", title="Completed", format=".0%"),
            ],
        )
        .properties(height=280),
        width="stretch",
    )
    st.caption("Recent weeks are lower: those learners have had less time to finish.")
withheld = int(weeks["is_withheld"].sum())
if withheld:
    st.caption(
        f"{withheld} course weeks are withheld: fewer than {k} learners, or hidden with such a "
        "week so that the course's total does not give it away."
    )


st.subheader("Where learners stop")
options = shown["course_id"].tolist()
if not options:
    st.info(f"None of your courses has {k} or more enrolments yet.", icon=":material/info:")
else:
    names = dict(zip(summary["course_id"], summary["course_title"], strict=True))
    course_id = st.selectbox("Course", options, format_func=names.get, key="dropoff_course")
    funnel = queries.module_funnel(version, user.instructor_id, course_id).assign(
        step=lambda d: [
            step_label(int(a), int(b))
            for a, b in zip(d["first_module_position"], d["last_module_position"], strict=True)
        ]
    )
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Learners who completed each module**")
        st.altair_chart(
            alt.Chart(funnel)
            .mark_area(opacity=0.35, line=True, point=True)
            .encode(
                x=alt.X("first_module_position:O", title="Module", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("reached_share:Q", title="Share of enrolled", axis=alt.Axis(format="%")),
                tooltip=[
                    alt.Tooltip("first_module_position:O", title="Module"),
                    alt.Tooltip("first_module_title:N", title="Title"),
                    alt.Tooltip("reached_count:Q", title="Completed it"),
                    alt.Tooltip("reached_share:Q", title="Share of enrolled", format=".0%"),
                ],
            ),
            width="stretch",
        )
    with right:
        st.markdown("**Drop-outs by the last module they completed**")
        if not funnel["dropped_count"].any():
            st.caption("Nobody has dropped this course.")
        else:
            top = funnel.sort_values("dropped_count", ascending=False).iloc[0]
            st.altair_chart(
                alt.Chart(funnel)
                .mark_bar(color="#E45756", size=36)
                .encode(
                    x=alt.X("step:N", title="Last module completed", sort=None),
                    y=alt.Y("dropped_count:Q", title="Learners who dropped"),
                    tooltip=[
                        alt.Tooltip("step:N", title="Last module completed"),
                        alt.Tooltip("learner_count:Q", title="Learners there"),
                        alt.Tooltip("dropped_count:Q", title="Of whom dropped"),
                    ],
                ),
                width="stretch",
            )
            st.caption(f"Most drop-outs stop at {top['step'].lower()}: a good place to look first.")
    st.caption(
        f"Modules are grouped so that each group holds at least {k} learners: no difference "
        "between two points singles out fewer."
    )

benchmarks = queries.course_benchmarks(version, user.instructor_id)
if not benchmarks.empty:
    st.subheader("How your course compares")
    bench_names = dict(zip(benchmarks["course_id"], benchmarks["course_title"], strict=True))
    bench_course = st.selectbox(
        "Course", list(bench_names), format_func=bench_names.get, key="benchmark_course"
    )
    b = benchmarks.set_index("course_id").loc[bench_course]
    st.markdown(f"**{b['verdict']}**")
    st.dataframe(
        benchmark_rows(b),
        hide_index=True,
        column_config={
            "Where it stands": st.column_config.ProgressColumn(
                "Where it stands", help="Percentile among similar courses", format="%d",
                min_value=0, max_value=100,
            )
        },
    )  # fmt: skip
    with st.expander(f"The similar courses ({int(b['peers_compared'])} with enough learners)"):
        st.dataframe(
            queries.course_peers(version, bench_course),
            hide_index=True,
            column_config={
                "rank": "#",
                "course_title": "Course",
                "similarity": st.column_config.NumberColumn("Similarity", format="%.2f"),
            },
        )
    st.caption(
        "Similar = closest in skills and text. Figures only from groups of at least "
        f"{k} learners; similar courses with fewer are left out."
    )

risk = queries.course_risk(version, user.instructor_id, k)
if not risk.empty:
    st.subheader("Open enrolments at risk of dropping out")
    st.altair_chart(
        alt.Chart(risk)
        .mark_bar()
        .encode(
            # Whole course names: the label column takes the room it needs (up to 360 px).
            y=alt.Y("course_title:N", title=None, axis=alt.Axis(labelLimit=360)),
            x=alt.X("learners:Q", title="Learners", stack="zero"),
            color=alt.Color("risk_band:N", title="Risk", legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("course_title:N", title="Course"),
                alt.Tooltip("risk_band:N", title="Risk"),
                alt.Tooltip("learners:Q", title="Learners"),
            ],
        )
        .properties(height=alt.Step(28)),
        width="stretch",
    )
