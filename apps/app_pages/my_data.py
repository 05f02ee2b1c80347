"""Learner view · How Pathwise uses your data: what each consent tier collects (from the event
contract), what is inferred about this learner (learning style, whether a dropout-risk score
exists and who sees it, how their recommendations are made), and controls to change consent and
to object to personalization. A change is written as a `consent_changed` event the way the
platform's own events arrive (apps/clicks.py) and applies from the next nightly run. Learners
only, and only their own `learner_key`."""

import streamlit as st

from apps import auth, clicks, ui
from apps.queries import my_data as queries
from pathwise.contract import EVENT_TYPES, ConsentScope, Tier
from pathwise.settings import get_settings

user = auth.require_role("learner")
snap = ui.require_snapshot("learner")
version = snap.version
st.title("How Pathwise uses your data")
ui.snapshot_caption(snap, "changes you make here apply from the next nightly update")

state = queries.consent_state(version, user.learner_key)
# Choices saved in this session but not yet taken in by a nightly run.
pending: dict = st.session_state.setdefault("consent_pending", {})
fine_on = pending.get(ConsentScope.FINE, state["fine"])
personalized = pending.get(ConsentScope.PERSONALIZATION, not state["opted_out"])


def event_names(tier: Tier) -> str:
    return ", ".join(f"`{n}`" for n, e in EVENT_TYPES.items() if e.tier is tier)


# -- what we collect ------------------------------------------------------------------------------
st.subheader("What we collect")
st.markdown(
    f"""
| tier | what | when | yours |
|---|---|---|---|
| Essential | what you do to learn: {event_names(Tier.ESSENTIAL)} | always, to run the courses \
you take | collected |
| Fine-grained | how you watch videos: {event_names(Tier.FINE)}, kept only as daily counts | \
only while you allow it | {"allowed" if state["fine"] else "not collected"} |
| Personalization | the above used to tailor recommendations to you and to infer your learning \
style and your risk of dropping a course | unless you object | \
{"you objected" if state["opted_out"] else "on"} |
"""
)
st.caption(
    "Your platform id, e-mail address and IP address never reach our warehouse: you are known "
    "there by a keyed pseudonym, and e-mail addresses and phone numbers in what you write are "
    "removed on arrival."
)

# -- what we infer --------------------------------------------------------------------------------
st.subheader("What we infer about you")
if state["opted_out"]:
    st.info(
        "You objected to personalization, so nothing is inferred about you: no learning style, "
        "no dropout-risk score, no personal reasons.",
        icon=":material/person_off:",
    )
else:
    style = queries.learning_style(version, user.learner_key)
    if style is None or style.get("style") in (None, "unknown"):
        why = f" ({style['evidence']})" if style and style.get("evidence") else ""
        st.markdown(f"**Learning style:** not determined{why}.")
    else:
        st.markdown(
            f"**Learning style:** {style['style']} (confidence {style['confidence']:.0%}; "
            f"evidence: {style['evidence']}). It decides which format of a course we suggest "
            "first."
        )
    risks = queries.risk_scores(version, user.learner_key)
    if risks.empty:
        st.markdown("**Dropout risk:** no score exists for you.")
    else:
        counted = int(risks["used_for_decisions"].sum())
        st.markdown(
            f"**Dropout risk:** a score exists for {len(risks)} open course(s). Nobody sees "
            "your score: "
            + (
                f"for {counted} of them your instructor sees only how many learners of the "
                "course fall in each risk band, in groups of at least "
                f"{get_settings().k_anonymity}."
                if counted
                else "the model did not pass its quality check for your courses, so it is not "
                "shown to anyone, not even as a count."
            )
        )

# -- how recommendations are made -----------------------------------------------------------------
st.subheader("How your recommendations are made")
if state["opted_out"]:
    st.markdown(
        "**Not personalized.** You get the same list as everyone: courses popular with "
        "learners lately that a beginner can start. Nothing about you is used to rank it."
    )
elif not queries.has_own_list(version, user.learner_key):
    st.markdown(
        "We know too little about you yet, so you get the list of popular beginner courses; it "
        "becomes personal as you learn."
    )
else:
    st.markdown(
        "Each course gets a score from these signals, blended with the weights shown (the same "
        "for everyone); courses you took, whose prerequisites you lack or that are far above "
        "your level are left out. Every recommendation says why it was chosen."
    )
    signals = queries.recommendation_signals(version)
    st.dataframe(
        signals,
        hide_index=True,
        column_config={
            "label": "signal",
            "description": "what it measures",
            "weight": st.column_config.NumberColumn("weight", format="%.2f"),
        },
    )

# -- your choices ---------------------------------------------------------------------------------
st.subheader("Your choices")
with st.form("consent", border=True):
    want_fine = st.toggle(
        "Collect fine-grained video behaviour (seeks and pauses, as daily counts)", value=fine_on
    )
    want_personal = st.toggle(
        "Personalize my recommendations and insights (off: you object to profiling)",
        value=personalized,
    )
    saved = st.form_submit_button("Save my choices", icon=":material/save:")
if saved:
    changes = {ConsentScope.FINE: (want_fine, fine_on)}
    changes[ConsentScope.PERSONALIZATION] = (want_personal, personalized)
    changed = [scope for scope, (new, old) in changes.items() if new != old]
    for scope in changed:
        clicks.record_consent(user.learner_key, scope, granted=changes[scope][0])
        pending[scope] = changes[scope][0]
    if changed:
        st.success(
            "Saved. Your choice applies from the next nightly update; until then this page "
            "and your recommendations show what was in force before.",
            icon=":material/check_circle:",
        )
    else:
        st.info("Nothing changed.", icon=":material/info:")
