"""Sign-in: the only page a visitor can reach."""

import streamlit as st

from apps import auth
from pathwise.accounts import SignInRefused, UserStore

_, middle, _ = st.columns([1, 1.2, 1])
with middle:
    st.title("Pathwise")
    st.caption("Learning recommendations you can trust.")
    notice = st.session_state.get("auth_notice")
    if notice:
        st.info(notice, icon=":material/schedule:")
    with st.form("sign_in", border=True):
        st.subheader("Sign in")
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
    if submitted:
        try:
            user = UserStore().authenticate(username, password, auth.client_address())
        except SignInRefused as refused:  # throttled and audited; says nothing of who exists
            st.error(str(refused), icon=":material/error:")
        else:
            auth.sign_in(user)
            st.rerun()
    st.caption("No account? Ask your administrator (`pathwise users add`).")
