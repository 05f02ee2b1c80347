"""Who may see what in the app: sign-in that expires, and a role check on every page.

Accounts and their passwords are `pathwise.accounts` (shared with the `pathwise users` command).
In the app a sign-in lives in the browser session (st.session_state) and ends on sign-out, on
`PATHWISE_SESSION_EXPIRY_MINUTES` of age, or when the account is removed or reset (its
`session_version` moved on), checked on every page run. Every page checks the role
itself (`require_role`), so a page is closed even when reached without the menu.
"""

from __future__ import annotations

import time

from pathwise.accounts import User, UserStore
from pathwise.settings import get_settings

SESSION_KEY = "pathwise_user"


def current_user() -> User | None:
    """The signed-in user of this browser session, or None (also once the sign-in has expired)."""
    import streamlit as st

    user: User | None = st.session_state.get(SESSION_KEY)
    if user is None:
        return None
    age_min = (time.time() - user.signed_in_at) / 60
    if age_min > get_settings().session_expiry_minutes:
        sign_out()
        st.session_state["auth_notice"] = "Your session expired. Please sign in again."
        return None
    # An account removed, reset or changed since sign-in loses its session at the next page run.
    stored = UserStore().get(user.username)
    if stored is None or _identity(stored) != _identity(user):
        sign_out()
        st.session_state["auth_notice"] = "Your account was reset or changed. Please sign in again."
        return None
    return user


def _identity(u: User) -> tuple:
    return (u.role, u.instructor_id, u.learner_key, u.session_version)


def client_address() -> str | None:
    """The browser's address as Streamlit sees it: None for localhost and in tests (then sign-ins
    are throttled per account only). Behind a proxy it is the proxy's, hence a higher limit."""
    import streamlit as st

    address = st.context.ip_address
    return address if isinstance(address, str) and address else None  # AppTest gives a mock


def sign_in(user: User) -> None:
    import streamlit as st

    st.session_state[SESSION_KEY] = user
    st.session_state.pop("auth_notice", None)


def sign_out() -> None:
    import streamlit as st

    st.session_state.pop(SESSION_KEY, None)
    # Cached per-user data (st.cache_data) is keyed by identity, never reachable without it.


def require_role(*roles: str) -> User:
    """Stop the page unless a user with one of `roles` is signed in."""
    import streamlit as st

    user = current_user()
    if user is None:
        st.warning("Please sign in to see this page.", icon=":material/lock:")
        st.stop()
    if user.role not in roles:
        st.error(
            f"This page is for {' or '.join(roles)} accounts; you are signed in as {user.role}.",
            icon=":material/block:",
        )
        st.stop()
    return user
