"""Who may use what: one authorization matrix for every interface, the read API and the app pages.

Each entry is a resource, "<METHOD> <path>" for a read-API route or "page <file>" for an app page,
mapped to what each role may do: ALLOW, OWN (only about the caller's own learner_key) or DENY.
The read API enforces it (`apps/api.py` asks `access_for` on every protected route, and a route
missing here fails at start-up); the app pages declare their roles themselves (`auth.require_role`
and the menu in `streamlit_app.py`), and `tests/test_access.py` checks they agree with this table.
Tests fail for any API route or page missing here, so a new one cannot be forgotten.

Roles: `anonymous` (no credentials), the app accounts `learner`, `instructor`, `admin`, and the
read API's keys `service`, `learner`, `admin` (`pathwise keys`). No instructor API key exists and
no app account is a service, so those are anonymous there (their entries equal anonymous').
"""

from __future__ import annotations

from typing import Literal

Access = Literal["allow", "own", "deny"]
ALLOW: Access = "allow"
OWN: Access = "own"
DENY: Access = "deny"
ROLES = ("anonymous", "learner", "instructor", "service", "admin")
APP_ROLES = ("learner", "instructor", "admin")  # app accounts (pathwise users)


def _only(**access: Access) -> dict[str, Access]:
    """Every role denied except those named."""
    return {role: access.get(role, DENY) for role in ROLES}


_EVERYONE = dict.fromkeys(ROLES, ALLOW)

MATRIX: dict[str, dict[str, Access]] = {
    # ---- read API (apps/api.py). Its description is public: it holds no data, and /docs must
    # load it before the caller has pasted a key into "Authorize".
    "GET /health": _EVERYONE,
    "GET /openapi.json": _EVERYONE,
    "GET /docs": _EVERYONE,
    "GET /docs/oauth2-redirect": _EVERYONE,
    "GET /redoc": _EVERYONE,
    "GET /v1/learners/{learner}/recommendations": _only(learner=OWN, service=ALLOW, admin=ALLOW),
    "GET /v1/learners/{learner}/nudges": _only(learner=OWN, service=ALLOW, admin=ALLOW),
    "GET /v1/learners/{learner}/path": _only(learner=OWN, service=ALLOW, admin=ALLOW),
    # the learner's own conversation, or the platform relaying it; an admin has no words to add
    "POST /v1/learners/{learner}/onboarding": _only(learner=OWN, service=ALLOW),
    "GET /v1/keys": _only(admin=ALLOW),
    # ---- app pages (apps/streamlit_app.py): a visitor sees only the sign-in page.
    "page app_pages/sign_in.py": _only(anonymous=ALLOW, service=ALLOW),
    "page app_pages/control_tower.py": _only(admin=ALLOW),
    "page app_pages/interventions.py": _only(admin=ALLOW),
    "page app_pages/campaigns.py": _only(admin=ALLOW),
    "page app_pages/audit_log.py": _only(admin=ALLOW),
    "page app_pages/privacy_requests.py": _only(admin=ALLOW),
    "page app_pages/creator.py": _only(instructor=ALLOW),
    "page app_pages/content_gaps.py": _only(instructor=ALLOW),
    "page app_pages/briefs.py": _only(instructor=ALLOW, admin=ALLOW),
    "page app_pages/course_metadata.py": _only(instructor=ALLOW, admin=ALLOW),
    "page app_pages/learner.py": _only(learner=OWN),
    "page app_pages/course_qa.py": _only(learner=ALLOW),
    "page app_pages/my_data.py": _only(learner=OWN),
    "page app_pages/learning_path.py": _only(learner=OWN),
}


def access_for(resource: str) -> dict[str, Access]:
    """The row for `resource`; a KeyError names what to add here."""
    try:
        return MATRIX[resource]
    except KeyError:
        raise KeyError(
            f"{resource!r} is not in the authorization matrix (apps/access.py)"
        ) from None


def api_routes() -> list[str]:
    return [r for r in MATRIX if not r.startswith("page ")]


def app_pages() -> list[str]:
    return [r.removeprefix("page ") for r in MATRIX if r.startswith("page ")]
