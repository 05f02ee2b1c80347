"""Control Tower · Privacy requests: erase or export one learner by their platform user id, through
the same code as `pathwise privacy erase|export` (`apps/rights.py`), with a confirmation before an
erasure, the export as a download, and the erasure audit. Admins only."""

import pandas as pd
import streamlit as st

from apps import auth, rights

user = auth.require_role("admin")
st.title("Privacy requests")
st.caption(
    "A learner's right to their data (GDPR Art. 15, 17, 20; CCPA): export everything held about "
    "them, or erase them from every store. The same as `pathwise privacy export|erase`."
)

user_id = st.text_input(
    "The learner's platform user id",
    key="privacy_user_id",
    help="As the platform sends it in `user_id`; Pathwise keys it, it is not kept here.",
).strip()
export_tab, erase_tab = st.tabs(["Export", "Erase"])

with export_tab:
    st.markdown(
        "Everything held about the learner: `learner.json` (consents, recommendations with "
        "reasons, dropout risk, learning style, profile, served lists) and one CSV per table. "
        "It holds what the platform sent (e-mail and IP included): hand it to the learner only."
    )
    if st.button("Prepare the export", disabled=not user_id, icon=":material/folder_zip:"):
        try:
            with st.spinner("Collecting from every store..."):
                st.session_state["privacy_export"] = (user_id, rights.export_zip(user_id))
        except rights.Busy as busy:
            st.warning(f"The warehouse is busy; try again in a few minutes. ({busy})")
    ready = st.session_state.get("privacy_export")
    if ready and ready[0] == user_id:
        st.download_button(
            "Download the export (zip)",
            data=ready[1],
            file_name="pathwise-export.zip",
            mime="application/zip",
            icon=":material/download:",
        )

with erase_tab:
    st.markdown(
        "Removes the learner from every store (identity vault, events, quarantine, marts, model "
        "results, snapshots, the recommendation log, landing files, accounts, API keys), leaves "
        "a tombstone so re-sent events cannot bring them back, and compacts the files. It "
        "**cannot be undone**. An interrupted erasure resumes when asked again."
    )
    again = st.text_input("Type the user id again to confirm", key="privacy_confirm").strip()
    sure = st.checkbox("I understand that this erases the learner for good.", key="privacy_sure")
    confirmed = bool(user_id) and again == user_id and sure
    if st.button(
        "Erase this learner", type="primary", disabled=not confirmed, icon=":material/delete:"
    ):
        try:
            with st.spinner("Erasing from every store..."):
                report = rights.erase(user_id, user.username)
        except rights.Busy as busy:
            st.warning(
                "The warehouse is busy (a nightly run or another request is writing it); "
                f"try again in a few minutes: the erasure resumes where it stopped. ({busy})"
            )
        else:
            st.session_state.pop("privacy_export", None)
            known = (
                ""
                if report.known
                else " The vault did not know this user id; what matched it was erased anyway."
            )
            st.success(
                f"Erased in {report.seconds:.1f} s: {sum(report.deleted.values())} rows, lines "
                f"or files from {sum(1 for n in report.deleted.values() if n)} stores "
                f"(erasure `{report.erasure_id}`).{known}",
                icon=":material/check_circle:",
            )

st.subheader("Erasure audit")
try:
    entries = rights.audit()
except rights.Busy:
    entries = None
    st.info("The audit is unavailable while a nightly run writes the warehouse.")
if entries == []:
    st.caption("No erasure yet.")
elif entries:
    st.dataframe(
        pd.DataFrame(
            {
                "finished": [e["finished_at"] for e in entries],
                "requested by": [e["requested_by"] for e in entries],
                "rows deleted": [sum(e["deleted"].values()) for e in entries],
                "stores": [
                    ", ".join(f"{k} {v}" for k, v in e["deleted"].items() if v) for e in entries
                ],
                "erasure": [e["erasure_id"] for e in entries],
            }
        ),
        hide_index=True,
    )
