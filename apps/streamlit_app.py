"""Pathwise app: one Streamlit app, three audiences. `pathwise app` (or `make app`) starts it.

The menu is built per role with `st.navigation`: a visitor sees only the sign-in page, an admin the
Control Tower, an instructor the creator dashboard, a learner their own page. Each page checks the
role again itself (`auth.require_role`), so no page is reachable by URL without it. With
`PATHWISE_ENV=production` it shows nothing while development secrets are in use or it is served
without TLS, and logs what to set (`pathwise.production`, `pathwise.tls`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from apps import auth, warm
from pathwise.at_rest import private_process
from pathwise.production import ProductionConfigError, check_startup
from pathwise.tls import TLSConfigError, check_served_tls

NOT_READY = (
    "This Pathwise installation is not ready for production: its administrator will find what to "
    "set in the app's log."
)

# A file, not a `:material/...:` name: Streamlit fetches those favicons from Google's font host,
# and the app must not reach the internet (nor tell a third party who uses it).
FAVICON = Path(__file__).parent / "assets" / "favicon.png"

st.set_page_config(
    page_title="Pathwise",
    page_icon=str(FAVICON),
    layout="wide",
    initial_sidebar_state="auto",
)

private_process()  # also when started by `streamlit run` rather than `pathwise app`
try:
    check_startup("the app")
    check_served_tls(st.get_option("server.sslCertFile"), "the app")
except (ProductionConfigError, TLSConfigError) as refused:
    # What to set goes to the operator's log (and `pathwise app`'s terminal), not to visitors.
    logging.getLogger("pathwise").error("%s", refused)
    st.error(NOT_READY, icon=":material/block:")
    st.stop()

PAGES = {
    "admin": {
        "Control Tower": [
            st.Page(
                "app_pages/control_tower.py",
                title="Performance",
                icon=":material/monitoring:",
                default=True,
            ),
            st.Page("app_pages/interventions.py", title="Interventions", icon=":material/tune:"),
            st.Page("app_pages/campaigns.py", title="Campaigns", icon=":material/campaign:"),
            st.Page("app_pages/audit_log.py", title="Audit log", icon=":material/history:"),
            st.Page(
                "app_pages/course_metadata.py", title="Review metadata", icon=":material/sell:"
            ),
            st.Page(
                "app_pages/privacy_requests.py",
                title="Privacy requests",
                icon=":material/shield_person:",
            ),
            st.Page("app_pages/briefs.py", title="Briefs", icon=":material/edit_note:"),
        ]
    },
    "instructor": {
        "Creator dashboard": [
            st.Page(
                "app_pages/creator.py",
                title="My courses",
                icon=":material/school:",
                default=True,
            ),
            st.Page(
                "app_pages/content_gaps.py", title="Content gaps", icon=":material/travel_explore:"
            ),
            st.Page(
                "app_pages/course_metadata.py", title="Review metadata", icon=":material/sell:"
            ),
            st.Page("app_pages/briefs.py", title="Briefs", icon=":material/edit_note:"),
        ]
    },
    "learner": {
        "My learning": [
            st.Page(
                "app_pages/learner.py",
                title="My learning",
                icon=":material/auto_stories:",
                default=True,
            ),
            st.Page("app_pages/learning_path.py", title="My path", icon=":material/route:"),
            st.Page("app_pages/course_qa.py", title="Ask a course", icon=":material/forum:"),
            st.Page("app_pages/my_data.py", title="Your data", icon=":material/privacy_tip:"),
        ]
    },
}

ROLE_LABEL = {"admin": "Administrator", "instructor": "Instructor", "learner": "Learner"}

user = auth.current_user()
if user is None:
    # Every page's own address shows the sign-in form too (not "Page not found"), and stays in
    # the address bar: signing in reruns the script, which then finds the page asked for.
    bookmarkable = {  # one per address: a page several roles have (Briefs, Review metadata) is listed once
        p.url_path: st.Page("app_pages/sign_in.py", title="Sign in", url_path=p.url_path)
        for sections in PAGES.values()
        for pages in sections.values()
        for p in pages
        if p.url_path  # a role's default page lives at the root, the sign-in page's address
    }
    page = st.navigation(
        [
            st.Page("app_pages/sign_in.py", title="Sign in", icon=":material/login:", default=True),
            *bookmarkable.values(),
        ],
        position="hidden",
    )
else:
    with st.sidebar:
        st.markdown(f"**{user.username}**  \n{ROLE_LABEL[user.role]}")
        st.button("Sign out", icon=":material/logout:", on_click=auth.sign_out, key="sign_out")
    page = st.navigation(PAGES[user.role])
page.run()
if user is None:  # while the visitor signs in, their browser loads the pages' code
    warm.browser()
