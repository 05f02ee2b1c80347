"""Creator dashboard · Content gaps: skills learners and employers ask for that the catalog lacks,
from searches, forum posts and the job market (O*NET), with the last 7 days against the 7 before,
and the skills learners' learning-path goals need that no course teaches (k learners or more).
Instructors only; catalog-wide aggregates with no learner identifiers. A search topic shows only
once k learners searched it (`unmatched_search_topics`), so nobody's one-off query (a name, say)
does."""

import altair as alt
import streamlit as st

from apps import auth, ui
from apps.queries import content_gaps as queries
from pathwise.settings import get_settings

auth.require_role("instructor")
st.title("Content gaps & demand")
snap = ui.require_snapshot()
version = snap.version
ui.snapshot_caption(snap, "demand from searches, forum posts and O*NET job data")

TOP = 25
gaps = queries.content_gaps(version, TOP)
topics = queries.unmatched_topics(version)
if gaps.empty:
    st.info("No demand signals yet.", icon=":material/info:")
    st.stop()

counts = queries.gap_counts(version)  # over every skill, not only the top ones listed
m = st.columns(4)
m[0].metric(
    "Skills with unmet demand",
    f"{counts['unmet']:,}",
    help=f"Demand above supply, over every skill; the top {TOP} are shown below",
    border=True,
)
m[1].metric("…that no course teaches", f"{counts['not_taught']:,}", border=True)
m[2].metric("Gaps widening this week", f"{counts['widening']:,}", border=True)
m[3].metric("Search topics with no course", len(topics), border=True)

st.subheader("Top gaps: demand vs supply")
chart = gaps.head(15).assign(
    trend=lambda d: d["gap_score_trend"].map(
        lambda t: "widening" if t > 0 else ("narrowing" if t < 0 else "steady")
    )
)
st.altair_chart(
    alt.Chart(chart)
    .mark_bar()
    .encode(
        y=alt.Y("skill_name:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("gap_score:Q", title="Gap score (demand − supply)"),
        color=alt.Color(
            "trend:N",
            title="Last 7 days",
            scale=alt.Scale(
                domain=["widening", "steady", "narrowing"], range=["#E45756", "#BAB0AC", "#54A24B"]
            ),
            legend=alt.Legend(orient="bottom"),
        ),
        tooltip=[
            alt.Tooltip("skill_name:N", title="Skill"),
            alt.Tooltip("gap_score:Q", format=".2f"),
            alt.Tooltip("demand_score:Q", title="Demand", format=".2f"),
            alt.Tooltip("supply_score:Q", title="Supply", format=".2f"),
            alt.Tooltip("search_count_7d:Q", title="Searches, 7 days"),
            alt.Tooltip("forum_post_count_7d:Q", title="Forum posts, 7 days"),
            alt.Tooltip("job_occupation_count:Q", title="Occupations needing it"),
        ],
    )
    .properties(height=alt.Step(26)),
    width="stretch",
)

st.subheader("Demand signals")
st.caption(
    f"Top {min(TOP, len(gaps))} of {counts['unmet']:,} skills with unmet demand shown. "
    "Bars are scaled to the largest value in their column."
)


def change(prev: int, now: int) -> str:
    """Last 7 days against the 7 before, as read aloud: "8 (+3)"."""
    return f"{now} ({now - prev:+d})" if prev != now else f"{now} (=)"


table = gaps.assign(
    search_7d=lambda d: [
        change(int(a), int(b))
        for a, b in zip(d["search_count_prev_7d"], d["search_count_7d"], strict=True)
    ],
    forum_7d=lambda d: [
        change(int(a), int(b))
        for a, b in zip(d["forum_post_count_prev_7d"], d["forum_post_count_7d"], strict=True)
    ],
)


def scaled(label: str, column: str, help_text: str) -> st.column_config.ProgressColumn:
    """A count as a bar from 0 to the column's largest value, the number written beside it."""
    top = max(int(table[column].max()), 1)
    return st.column_config.ProgressColumn(
        label,
        min_value=0,
        max_value=top,
        format="%d",
        width="small",
        help=f"{help_text} (bar: 0 to {top:,})",
    )


st.dataframe(
    table[
        [
            "skill_name",
            "gap_score",
            "search_count",
            "search_7d",
            "zero_result_share",
            "forum_post_count",
            "forum_7d",
            "job_occupation_count",
            "course_count",
        ]
    ],
    hide_index=True,
    placeholder="–",
    width="stretch",
    column_config={
        "skill_name": st.column_config.TextColumn("Skill", width="medium"),
        "gap_score": st.column_config.ProgressColumn(
            "Gap",
            format="%.2f",
            width="small",
            min_value=-1,
            max_value=1,
            help="Demand minus supply, from -1 (plenty of courses) to 1 (demand, no course)",
        ),
        "search_count": scaled("Searches", "search_count", "Searches for the skill"),
        "search_7d": st.column_config.TextColumn(
            "Searches 7d", width="small", help="Last 7 days (change on the 7 days before)"
        ),
        "zero_result_share": st.column_config.NumberColumn(
            "No results", format="percent", width="small"
        ),
        "forum_post_count": scaled("Forum posts", "forum_post_count", "Forum posts naming it"),
        "forum_7d": st.column_config.TextColumn(
            "Posts 7d", width="small", help="Last 7 days (change on the 7 days before)"
        ),
        "job_occupation_count": scaled(
            "Occupations", "job_occupation_count", "O*NET occupations listing the skill"
        ),
        "course_count": st.column_config.NumberColumn("Courses", width="small"),
    },
)

st.subheader("Skills learners' goals need that no course teaches")
needed = queries.path_demand(version)
if needed.empty:
    k = get_settings().k_anonymity
    st.info(
        f"No skill that {k} or more learners' path goals need is missing from the catalog.",
        icon=":material/info:",
    )
else:
    counted = needed["path_demand_computed_at"].max()
    st.caption(
        f"From the learning paths, counted {counted:%d %b %Y}: learners whose target role needs "
        "the skill, who do not have it yet, while no course teaches it."
    )
    st.dataframe(
        needed.drop(columns="path_demand_computed_at"),
        hide_index=True,
        placeholder="–",
        column_config={
            "skill_name": "Skill",
            "path_learner_count": st.column_config.NumberColumn(
                "Learners whose path needs it", format="%d"
            ),
            "job_occupation_count": st.column_config.NumberColumn(
                "Occupations", help="O*NET occupations listing the skill"
            ),
            "search_count": st.column_config.NumberColumn("Searches"),
        },
    )

st.subheader("Searches the catalog cannot answer")
if topics.empty:
    k = get_settings().k_anonymity
    st.success(f"Every topic searched by {k} or more learners matches a course skill.")
else:
    st.dataframe(
        topics,
        hide_index=True,
        placeholder="–",
        column_config={
            "topic": "Topic",
            "search_count": "Searches",
            "learner_count": "Learners",
            "search_count_7d": "Last 7 days",
            "search_count_prev_7d": "7 days before",
            "zero_result_share": st.column_config.NumberColumn("No results", format="percent"),
            "matches_taxonomy_skill": st.column_config.CheckboxColumn("Known skill"),
            "last_searched_at": st.column_config.DatetimeColumn("Last searched", format="D MMM"),
        },
    )
