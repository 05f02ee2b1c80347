"""Content briefs: for a skill learners and employers ask for that the catalog lacks, a plan for a
new course (persona, outcomes, modules, demand forecast, competing courses), every sentence citing
its evidence; downloadable as Markdown and PDF. Instructors and admins; aggregates only (groups of
at least k learners). Generated on demand from the published snapshot (agents/briefs)."""

import streamlit as st

from apps import auth, ui
from apps.queries import briefs as queries
from pathwise.settings import get_settings

auth.require_role("instructor", "admin")
st.title("Content briefs")
snap = ui.require_snapshot()
version = snap.version
ui.snapshot_caption(snap, "platform trends, O*NET, ESCO and job postings")

gaps = queries.gaps(version)
if gaps.empty:
    st.info("No skill has unmet demand yet: nothing to write a brief for.", icon=":material/info:")
    st.stop()

names = dict(zip(gaps["skill_key"], gaps["skill_name"], strict=True))
scores = dict(zip(gaps["skill_key"], gaps["gap_score"], strict=True))
left, right = st.columns([3, 2], vertical_alignment="bottom")
skill = left.selectbox(
    "Skill with unmet demand",
    list(names),
    format_func=lambda k: f"{names[k]} (gap {scores[k]:.2f})",
    help="The widest gaps between demand (searches, forum posts, jobs) and the catalog first",
)
llm = get_settings().llm_base_url is not None
polished = right.toggle(
    "Polish the prose with the language model",
    disabled=not llm,
    help="Sentences whose numbers or names it changes keep the template's wording"
    if llm
    else "Set PATHWISE_LLM_BASE_URL to use a language model",
)
if st.button("Generate brief", type="primary", icon=":material/edit_note:", key="generate"):
    st.session_state["brief"] = (skill, polished)

chosen = st.session_state.get("brief")
if chosen is None or chosen[0] not in names:
    st.caption("Choose a skill and generate its brief.")
    st.stop()

key, polish = chosen
with st.spinner("Writing the brief…"):
    brief = queries.brief(version, key, polish)
    markdown, pdf = queries.exports(version, key, polish)
for notice in brief.notices:
    st.warning(notice, icon=":material/rule:")
stem = key.replace(" ", "-")
d = st.columns(2)
d[0].download_button(
    "Download Markdown", markdown, f"{stem}.md", "text/markdown", icon=":material/download:"
)
d[1].download_button(
    "Download PDF", pdf, f"{stem}.pdf", "application/pdf", icon=":material/picture_as_pdf:"
)
body, _, evidence = markdown.partition("\n## Evidence\n")
with st.container(border=True):
    st.markdown(body.replace("\n## ", "\n#### ").replace("# ", "### ", 1))
with st.expander(f"Evidence ({len(brief.evidence)} items)"):
    st.markdown(evidence)
