"""Access control on every interface: the authorization matrix (apps/access.py), generated tests.

The read API runs in a real uvicorn server reached over HTTP, on a home with keys but no snapshot
(what is checked here is who gets past access control; the answers themselves, with data, are in
test_serving.py). The app pages are checked against their own declarations: the roles each page
file requires and the menu each role gets in apps/streamlit_app.py.
"""

from __future__ import annotations

import ast
import os
import stat
import time
from collections.abc import Iterator

import httpx
import pytest
from _api_server import api_server
from typer.testing import CliRunner

from apps.access import ALLOW, APP_ROLES, DENY, MATRIX, OWN, ROLES, api_routes, app_pages
from pathwise.api_keys import KeyStore, RateLimiter, check_bind
from pathwise.settings import PROJECT_ROOT, get_settings

RATE_LIMIT = 30  # a minute, per key: the matrix test stays under it, the 429 test goes over
OWN_USER, OTHER_USER = "usr-own", "usr-other"


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[dict]:
    """The API on a home holding one key of each kind (and no snapshot), over real HTTP."""
    from apps.api import create_app
    from pathwise.privacy import pseudonym

    home = tmp_path_factory.mktemp("access") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        mp.setenv("PATHWISE_API_RATE_LIMIT_PER_MINUTE", str(RATE_LIMIT))
        get_settings.cache_clear()
        store = KeyStore()
        own = pseudonym(OWN_USER, get_settings().pseudonym_key.get_secret_value())
        tokens = {
            "service": store.create("platform", "service")[1],
            "learner": store.create("own learner", "learner", own)[1],
            "admin": store.create("ops", "admin")[1],
        }
        app = create_app()
        with api_server(app) as url:
            yield {"url": url, "tokens": tokens, "app": app, "store": store, "own": own}
        get_settings.cache_clear()


def call(api: dict, resource: str, role: str, learner: str = OWN_USER, **params) -> httpx.Response:
    method, path = resource.split(" ")
    token = api["tokens"].get(role)  # anonymous (and instructor: no API key exists) send none
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = api["url"] + path.format(learner=learner)
    return httpx.request(method, url, headers=headers, params=params, timeout=10)


# ---------------------------------------------------------------- the matrix itself


def test_every_route_of_the_api_is_in_the_matrix_and_nothing_else(api):
    routes = {
        f"{method} {route.path}"
        for route in api["app"].routes
        for method in getattr(route, "methods", set()) - {"HEAD"}
    }
    assert routes == set(api_routes()), "add the route to apps/access.py MATRIX"


def test_every_entry_names_every_role_and_interfaces_without_a_credential_are_anonymous():
    for resource, row in MATRIX.items():
        assert set(row) == set(ROLES) and set(row.values()) <= {ALLOW, OWN, DENY}, resource
        # No instructor API key exists; no app account is a service: they are anonymous there.
        other = "service" if resource.startswith("page ") else "instructor"
        assert row[other] == row["anonymous"], resource


# ---------------------------------------------------------------- the read API, generated


@pytest.mark.parametrize(("resource", "role"), [(r, role) for r in api_routes() for role in ROLES])
def test_the_api_enforces_the_matrix(api, resource, role):
    access = MATRIX[resource][role]
    response = call(api, resource, role)
    if access == DENY:
        expected = 401 if api["tokens"].get(role) is None else 403
        assert response.status_code == expected, response.text
        assert "learner_key" not in response.text and OWN_USER not in response.text
    else:  # past access control: 200, or 503 on this home without a snapshot
        assert response.status_code in (200, 503), response.text
    if access == OWN:  # ...and only about their own learner, however they name them
        assert call(api, resource, role, learner=OTHER_USER).status_code == 403
        own_key = call(api, resource, role, learner=api["own"], id_kind="learner_key")
        assert own_key.status_code in (200, 503)


def test_no_key_or_a_bad_one_is_a_401_before_anything_else(api):
    path = f"{api['url']}/v1/learners/{OTHER_USER}/recommendations"
    service = api["tokens"]["service"]
    for headers in (
        {},
        {"Authorization": "Bearer pw_00000000_not-a-key"},
        {"Authorization": f"Bearer {service[:-2]}xx"},  # a known id with a wrong secret
        {"Authorization": f"Basic {service}"},
    ):
        # Even a bad parameter: nothing is validated or looked up for an unknown caller.
        response = httpx.get(path, params={"k": 0}, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "pathwise keys create" in response.json()["error"]
    ok = httpx.get(path, params={"k": 0}, headers={"Authorization": f"Bearer {service}"})
    assert ok.status_code == 400 and "k: Input should be greater" in ok.json()["problems"][0]
    # A misspelt parameter is refused rather than ignored (here: id_kind would be user_id).
    typo = httpx.get(path, params={"idkind": "x"}, headers={"Authorization": f"Bearer {service}"})
    assert typo.status_code == 400
    assert typo.json()["problems"] == ["idkind: not a parameter of this endpoint"]


def test_a_revoked_or_rotated_key_is_refused_from_its_next_request(api):
    store: KeyStore = api["store"]
    key, token = store.create("short-lived", "service")
    path = f"{api['url']}/v1/keys"
    admin, _ = store.create("short-lived admin", "admin")
    admin_token = store.rotate(admin.key_id)[1]
    assert httpx.get(path, headers={"Authorization": f"Bearer {admin_token}"}).status_code == 200
    path = f"{api['url']}/v1/learners/{OTHER_USER}/recommendations"
    assert httpx.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 503
    store.revoke(key.key_id)
    assert httpx.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_admin_key_list_shows_no_secret(api):
    keys = httpx.get(
        f"{api['url']}/v1/keys", headers={"Authorization": f"Bearer {api['tokens']['admin']}"}
    ).json()
    assert {"platform", "own learner", "ops"} <= {k["name"] for k in keys}
    text = str(keys)
    assert all(token not in text for token in api["tokens"].values()) and "sha256" not in text


def test_a_key_beyond_its_rate_limit_gets_429_and_others_are_unaffected(api):
    _, token = api["store"].create("busy", "service")
    path = f"{api['url']}/v1/learners/{OTHER_USER}/recommendations"
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http:
        statuses = [http.get(path).status_code for _ in range(RATE_LIMIT + 2)]
        assert statuses[:RATE_LIMIT] == [503] * RATE_LIMIT  # allowed (no snapshot here)
        assert statuses[RATE_LIMIT:] == [429, 429]
        limited = http.get(path)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert call(api, "GET /v1/learners/{learner}/recommendations", "service").status_code == 503


def test_the_docs_show_the_bearer_scheme_and_only_statuses_the_api_answers(api):
    doc = httpx.get(f"{api['url']}/openapi.json").json()
    assert doc["components"]["securitySchemes"]["api_key"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["api_key"]["description"],
    }
    recs = doc["paths"]["/v1/learners/{learner}/recommendations"]["get"]
    assert recs["security"] == [{"api_key": []}]
    assert set(recs["responses"]) == {"200", "400", "401", "403", "429", "503"}
    assert set(doc["paths"]["/v1/keys"]["get"]["responses"]) == {"200", "400", "401", "403", "429"}
    assert "security" not in doc["paths"]["/health"]["get"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]


# ---------------------------------------------------------------- the app pages


def _page_files(node: ast.AST) -> list[str]:
    """Files of the `st.Page(...)` calls under `node`."""
    return [
        n.args[0].value
        for n in ast.walk(node)
        if isinstance(n, ast.Call)
        and getattr(n.func, "attr", None) == "Page"
        and n.args
        and isinstance(n.args[0], ast.Constant)
    ]


def declared_menus() -> dict[str, set[str]]:
    """Role -> the pages of its menu in streamlit_app.py; anonymous: the pages outside PAGES."""
    tree = ast.parse((PROJECT_ROOT / "apps" / "streamlit_app.py").read_text())
    [pages] = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "PAGES"
    ]
    assert isinstance(pages, ast.Dict)
    menus = {
        ast.literal_eval(k): set(_page_files(v))
        for k, v in zip(pages.keys, pages.values, strict=True)
    }
    menus["anonymous"] = set(_page_files(tree)) - set().union(*menus.values())
    return menus


def declared_roles(page: str) -> set[str] | None:
    """The roles a page file requires (`auth.require_role(...)`), None if it requires none."""
    tree = ast.parse((PROJECT_ROOT / "apps" / page).read_text())
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "require_role":
            return {ast.literal_eval(a) for a in n.args}
    return None


def test_every_page_file_is_in_the_matrix():
    files = {f"app_pages/{p.name}" for p in (PROJECT_ROOT / "apps" / "app_pages").glob("*.py")}
    assert files == set(app_pages()), "add the page to apps/access.py MATRIX"


@pytest.mark.parametrize("page", app_pages())
def test_each_page_declares_the_roles_of_the_matrix(page):
    row = MATRIX[f"page {page}"]
    allowed = {role for role in ("anonymous", *APP_ROLES) if row[role] != DENY}
    menus = declared_menus()
    assert {role for role, files in menus.items() if page in files} == allowed
    required = declared_roles(page)
    if required is None:  # a page anyone may open: only the sign-in page
        assert allowed == {"anonymous"}
    else:
        assert required == allowed and required <= set(APP_ROLES)


# ---------------------------------------------------------------- keys and binding


def test_keys_are_stored_hashed_in_a_private_file(pathwise_home):
    store = KeyStore()
    key, token = store.create("platform", "service")
    text = pathwise_home.api_keys_path.read_text()
    assert token not in text and token.split("_")[-1] not in text and key.sha256 in text
    assert stat.S_IMODE(os.stat(pathwise_home.api_keys_path).st_mode) == 0o600
    assert KeyStore().authenticate(token) == key  # another process sees it
    assert KeyStore().authenticate(token + "x") is None
    new, new_token = store.rotate(key.key_id)
    assert (new.name, new.role) == ("platform", "service") and new_token != token
    assert store.authenticate(token) is None and store.authenticate(new_token) == new


def test_a_learner_key_needs_its_learner_and_only_it(pathwise_home):
    from pathwise.api_keys import ApiKeyError

    with pytest.raises(ApiKeyError, match="learner-key"):
        KeyStore().create("x", "learner")
    with pytest.raises(ApiKeyError, match="learner-key"):
        KeyStore().create("x", "service", "0" * 32)
    with pytest.raises(ApiKeyError, match="role must be"):
        KeyStore().create("x", "instructor")


def test_the_rate_limiter_refills_over_time():
    limiter = RateLimiter(per_minute=120)  # 2 a second
    assert [limiter.retry_after("k") for _ in range(120)] == [0.0] * 120
    wait = limiter.retry_after("k")
    assert 0 < wait <= 0.5
    assert limiter.retry_after("other") == 0.0
    time.sleep(wait + 0.05)
    assert limiter.retry_after("k") == 0.0


def test_serve_refuses_a_public_interface_until_a_key_exists(pathwise_home):
    from pathwise.api_keys import ApiKeyError

    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(host)
    for host in ("0.0.0.0", "192.168.1.10", "example.org"):
        with pytest.raises(ApiKeyError, match="pathwise keys create"):
            check_bind(host)
    from cli import app

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "pathwise keys create" in result.output
    result = CliRunner().invoke(app, ["keys", "create", "platform", "--role", "service"])
    assert result.exit_code == 0, result.output
    token = result.output.split()[result.output.split().index("once:") + 1]
    assert KeyStore().authenticate(token) is not None
    check_bind("0.0.0.0")  # now allowed: callers can authenticate


def test_keys_cli_lists_revokes_and_rotates_without_showing_secrets(pathwise_home):
    from cli import app

    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "me", "--role", "learner", "--user-id", "u7"])
    assert made.exit_code == 0, made.output
    key_id = made.output.split()[1]
    listed = runner.invoke(app, ["keys", "list"]).output
    assert key_id in listed and "u7" not in listed and "pw_" not in listed
    rotated = runner.invoke(app, ["keys", "rotate", key_id])
    assert rotated.exit_code == 0 and "pw_" in rotated.output
    assert runner.invoke(app, ["keys", "revoke", "nope"]).exit_code == 2
    assert f"{key_id}" in runner.invoke(app, ["keys", "list"]).output
    assert "revoked" in runner.invoke(app, ["keys", "list"]).output


def test_the_api_takes_the_contracts_surfaces_only():
    from typing import get_args

    from apps.api import Surface
    from pathwise.contract import SURFACES

    assert get_args(Surface) == SURFACES
