"""Content gaps: skills in demand (searches, forum, jobs, learners' path goals) that the catalog
lacks, and unmatched topics."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.queries.snapshot import TTL, frame


@st.cache_data(ttl=TTL, show_spinner=False)
def content_gaps(version: str, limit: int = 25) -> pd.DataFrame:
    """The skills with the widest gap between demand (search, forum, jobs) and catalog supply."""
    return frame(
        version,
        """
        select skill_name, skill_category, is_in_catalog, gap_score, gap_score_trend,
               demand_score, supply_score, search_count, search_count_7d, search_count_prev_7d,
               forum_post_count, forum_post_count_7d, forum_post_count_prev_7d,
               job_occupation_count, job_in_demand_count, course_count, zero_result_share
        from content_gaps order by gap_score desc, skill_name limit ?
        """,
        [limit],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def gap_counts(version: str) -> dict[str, int]:
    """Over every skill, not only the top ones shown: how many have demand above supply, of
    them how many no course teaches and how many widened in the last 7 days."""
    return (
        frame(
            version,
            """
            select count(*) as unmet,
                   count(*) filter (where not is_in_catalog) as not_taught,
                   count(*) filter (where gap_score_trend > 0) as widening
            from content_gaps where gap_score > 0
            """,
        )
        .iloc[0]
        .astype(int)
        .to_dict()
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def path_demand(version: str) -> pd.DataFrame:
    """Skills learners' path goals need that no course teaches, with how many learners (the
    `paths` agent's count, k-anonymous: skills fewer than k learners need are not there)."""
    return frame(
        version,
        "select skill_name, path_learner_count, job_occupation_count, search_count, "
        "path_demand_computed_at from content_gaps where path_learner_count is not null "
        "order by path_learner_count desc, skill_name",
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def unmatched_topics(version: str) -> pd.DataFrame:
    return frame(
        version,
        "select topic, search_count, learner_count, search_count_7d, search_count_prev_7d, "
        "zero_result_share, matches_taxonomy_skill, last_searched_at "
        "from unmatched_search_topics order by search_count desc, topic",
    )
