"""Creator dashboard · My courses: how the instructor's own courses do, and where learners stop.

Instructors only, and only their courses (`instructor_id` of the account). No group of fewer than
`PATHWISE_K_ANONYMITY` learners is shown: such weeks, modules and risk bands are withheld."""

import altair as alt
import streamlit as st

from apps import auth, ui
from apps.queries import creator as queries
from pathwise.settings import get_settings

user = auth.require_role("instructor")
k = get_settings().k_anonymity
st.title("My courses")
snap = ui.require_snapshot()
version = snap.version
ui.snapshot_caption(snap, f"groups under {k} learners are never shown")

summary = queries.course_summary(version, user.instructor_id, k)
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
    summary.drop(columns=["enough_learners", "course_id"]),
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

weekly = queries.course_weekly(version, user.instructor_id, k)
st.subheader("Completion by enrolment week")
if weekly.empty:
    st.info(f"No enrolment week has {k} or more learners yet.", icon=":material/info:")
else:
    st.altair_chart(
        alt.Chart(weekly)
        .mark_line(point=True)
        .encode(
            x=alt.X("period_week:T", title="Week of enrolment"),
            y=alt.Y("completion_rate:Q", title="Completed so far", axis=alt.Axis(format="%")),
            color=alt.Color(
                "course_title:N",
                title=None,
                legend=alt.Legend(orient="bottom", columns=3, labelLimit=280),
            ),
            tooltip=[
                alt.Tooltip("course_title:N", title="Course"),
                alt.Tooltip("period_week:T", title="Week"),
                alt.Tooltip("enrolment_count:Q", title="Enrolments"),
                alt.Tooltip("completion_rate:Q", title="Completed", format=".0%"),
            ],
        )
        .properties(height=280),
        width="stretch",
    )
    st.caption("Recent weeks are lower: those learners have had less time to finish.")

st.subheader("Where learners stop")
options = shown["course_id"].tolist()
if not options:
    st.info(f"None of your courses has {k} or more enrolments yet.", icon=":material/info:")
else:
    names = dict(zip(summary["course_id"], summary["course_title"], strict=True))
    course_id = st.selectbox("Course", options, format_func=names.get, key="dropoff_course")
    funnel = queries.module_funnel(version, user.instructor_id, course_id, k)
    left, right = st.columns(2, gap="large")
    base = alt.Chart(funnel).encode(
        x=alt.X("module_position:O", title="Module", axis=alt.Axis(labelAngle=0)),
        tooltip=[
            alt.Tooltip("module_position:O", title="Module"),
            alt.Tooltip("module_title:N", title="Title"),
            alt.Tooltip("reached:Q", title="Completed it"),
            alt.Tooltip("reached_share:Q", title="Share of enrolled", format=".0%"),
            alt.Tooltip("dropped_after:Q", title="Dropped right after"),
        ],
    )
    with left:
        st.markdown("**Learners who completed each module**")
        st.altair_chart(
            base.mark_area(opacity=0.35, line=True, point=True).encode(
                y=alt.Y("reached_share:Q", title="Share of enrolled", axis=alt.Axis(format="%"))
            ),
            width="stretch",
        )
    with right:
        st.markdown("**Drop-outs by the last module they completed**")
        drops = funnel.dropna(subset=["dropped_after"])
        if drops.empty:
            st.caption(f"No module has {k} or more drop-outs after it.")
        else:
            top = drops.sort_values("dropped_after", ascending=False).iloc[0]
            st.altair_chart(
                alt.Chart(drops)
                .mark_bar(color="#E45756", size=36)
                .encode(
                    x=alt.X("module_position:O", title="Module", axis=alt.Axis(labelAngle=0)),
                    y=alt.Y("dropped_after:Q", title="Learners who dropped"),
                    tooltip=["module_title", "dropped_after"],
                ),
                width="stretch",
            )
            st.caption(
                f"Most drop-outs stop after module {int(top['module_position'])}, "
                f"“{top['module_title']}”: a good place to look first."
            )
    st.caption(f"Modules with fewer than {k} learners are left out.")

risk = queries.course_risk(version, user.instructor_id, k)
if not risk.empty:
    st.subheader("Open enrolments at risk of dropping out")
    st.altair_chart(
        alt.Chart(risk)
        .mark_bar()
        .encode(
            y=alt.Y("course_title:N", title=None),
            x=alt.X("learners:Q", title="Learners", stack="zero"),
            color=alt.Color("risk_band:N", title="Risk", legend=alt.Legend(orient="bottom")),
            tooltip=["course_title", "risk_band", "learners"],
        ),
        width="stretch",
    )
