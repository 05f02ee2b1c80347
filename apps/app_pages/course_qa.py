"""Learner view · Ask a course: questions about a course before enrolling, answered from its content
with the passages cited (`rag.ask`). Learners only."""

from typing import Any

import streamlit as st

from apps import auth, ui
from apps.queries import learner as queries
from apps.queries import snapshot

user = auth.require_role("learner")
snap = ui.require_snapshot("learner")
st.title("Ask a course")
st.caption(
    "Ask anything about a course before you enrol. Answers are machine-generated from the "
    "course material they quote: check the cited passages before you rely on them."
)


def field(obj: Any, name: str, default: Any = None) -> Any:
    """Read an answer's field whether `rag.ask` returns an object or a dict."""
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


try:
    from rag import ask
except ImportError:
    ask = None

catalog = snapshot.courses(snap.version)
titles = dict(zip(catalog["course_id"], catalog["course_title"], strict=True))
candidates, _ = queries.learner_candidates(snap.version, user.learner_key)
# The learner's own recommendations first, then the rest of the catalog.
ordered = list(dict.fromkeys([*candidates.get("course_id", []), *titles]))

with st.form("ask", border=True):
    course_id = st.selectbox(
        "Course",
        [None, *ordered],
        format_func=lambda c: "Any course" if c is None else titles.get(c, c),
        key="qa_course",
    )
    question = st.text_input(
        "Your question", placeholder="e.g. Do I need to know SQL first?", key="qa_question"
    )
    asked = st.form_submit_button("Ask", type="primary", icon=":material/send:", key="qa_ask")

if asked:
    if not question.strip():
        st.warning("Type a question first.")
    elif ask is None:
        st.info("Course Q&A is not available yet. Please try again later.", icon=":material/info:")
    else:
        try:
            with st.spinner("Looking through the course…"):
                answer = ask(question, course_id=course_id, log_outcome=True)
        except Exception as exc:  # the index or the model is unavailable: say so, keep the page
            st.error(
                "Course Q&A is unavailable right now. Please try again later.",
                icon=":material/cloud_off:",
            )
            st.caption(f"Details for support: {type(exc).__name__}")
        else:
            # confident: answered from the course; closest: the nearest material, said to perhaps
            # not answer the question; refused: nothing in the course is close (rag.decision).
            grade = field(answer, "grade") or ("refused" if field(answer, "refused") else "")
            if field(answer, "notice"):
                st.warning(field(answer, "notice"), icon=":material/info:")
            if grade == "refused":
                st.info(field(answer, "text") or "The course material does not answer this.")
            elif grade == "closest":
                st.info(
                    "Closest material: the course may not answer this exactly.",
                    icon=":material/travel_explore:",
                )
                st.markdown(field(answer, "text", ""))
            else:
                st.markdown(field(answer, "text", ""))
                st.caption("Answered from the course material.")
            citations = field(answer, "citations", []) or []
            if citations:
                st.markdown("**Sources**")
                for i, c in enumerate(citations, 1):
                    course = titles.get(field(c, "course_id")) or field(c, "course_title")
                    where = " › ".join(
                        str(p) for p in (course, field(c, "module"), field(c, "section")) if p
                    )
                    with st.expander(
                        f"[{i}] {where or field(c, 'source', 'passage')}", expanded=i == 1
                    ):
                        # Every line of the passage inside the quote (a bare "> " quotes
                        # only its first line; commands then lose their line breaks).
                        lines = str(field(c, "text", "")).splitlines()
                        st.markdown("\n".join(f"> {line}  " for line in lines if line.strip()))
                        if field(c, "source"):
                            st.caption(field(c, "source"))
