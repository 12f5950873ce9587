"""The full role matrix: every route of the hub's OpenAPI × every role (and no token) against hub.security.POLICY."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from hub.security import ADMIN_TOKEN_ENV, ROLES, TOKENS_FILE_ENV, Policy, TokenStore, policy_for, token_digest

NO_TOKEN = "no token"


def build_app(state_dir: Path) -> FastAPI:
    """The production app factory on a throw-away state dir; ingest is built but never connected."""
    from hub.api.app import create_app
    from hub.runtime import Hub
    from hub.settings import HubSettings

    settings = HubSettings(state_dir=state_dir, store_url=f"sqlite:///{state_dir / 'ts.sqlite'}")
    return create_app(Hub.build(settings))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return build_app(tmp_path_factory.mktemp("hub"))


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def tokens(app: FastAPI) -> dict[str, str]:
    store: TokenStore = app.state.tokens
    out = {role: store.issue(f"matrix-{role}", role, care_home="solgaarden" if role == "care_staff" else None)
           for role in ROLES}
    out[NO_TOKEN] = ""
    return out


def openapi_operations(app: FastAPI) -> list[tuple[str, str]]:
    ops = [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item]
    hidden = [(m, r.path) for r in app.routes if isinstance(r, APIRoute) and not r.include_in_schema for m in r.methods]
    return sorted(set(ops) | set(hidden))


def route_template(app: FastAPI, method: str, path: str) -> str:
    """OpenAPI writes ``{name}`` where the route says ``{name:path}``; the policy uses the route's form."""
    for route in app.routes:
        if isinstance(route, APIRoute) and method in route.methods and re.sub(r":[a-z]+}", "}", route.path) == path:
            return route.path
    return path


def concrete(path: str) -> str:
    return re.sub(r"{[^}]+}", "1", path)


def call(client: TestClient, method: str, path: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.request(method, concrete(path), headers=headers).status_code


def expected(policy: Policy, who: str) -> str:
    if policy.public:
        return "allowed"
    if policy.own_auth:
        return "refused"  # our API tokens are not the route's own login: 401, or 4xx for the empty request
    if who == NO_TOKEN:
        return "401"
    return "allowed" if policy.allows(who) else "403"


def test_every_route_has_a_policy(app: FastAPI) -> None:
    undeclared = [f"{m} {p}" for m, p in openapi_operations(app) if policy_for(m, route_template(app, m, p)) is None]
    assert not undeclared, f"routes without an entry in hub.security.POLICY: {undeclared}"


def test_role_matrix(app: FastAPI, client: TestClient, tokens: dict[str, str]) -> None:
    wrong = []
    checked = 0
    for method, path in openapi_operations(app):
        policy = policy_for(method, route_template(app, method, path))
        if policy is None:
            continue  # reported by test_every_route_has_a_policy
        for who, token in tokens.items():
            if method == "GET" and path == "/falls/stream" and expected(policy, who) == "allowed":
                continue  # an endless event stream
            status = call(client, method, path, token)
            want = expected(policy, who)
            if want == "refused":
                got = "refused" if 400 <= status < 500 else str(status)
            else:
                got = "allowed" if status not in (401, 403) else str(status)
            checked += 1
            if got != want:
                wrong.append(f"{method} {path} as {who}: expected {want}, got {status}")
    assert checked >= 5 * len(ROLES)
    assert not wrong, "\n".join(wrong)


def test_an_undeclared_route_is_closed(tmp_path: Path, tokens: dict[str, str]) -> None:
    app = build_app(tmp_path)

    @app.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "yes"}

    admin = app.state.tokens.issue("admin", "admin")
    with TestClient(app) as test_client:
        response = test_client.get("/forgotten", headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 403
    assert "No access policy" in response.json()["detail"]


def test_revoked_and_expired_tokens_are_refused(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = TokenStore(tmp_path / "t.sqlite", clock=lambda: now[0])
    kept = store.issue("prometheus", "technical")
    short = store.issue("visitor", "planner", days=1)
    assert store.resolve(kept) is not None and store.resolve(short) is not None
    store.revoke("prometheus")
    now[0] += 2 * 86400
    assert store.resolve(kept) is None
    assert store.resolve(short) is None


def test_tokens_are_stored_only_as_digests(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.sqlite")
    token = store.issue("anna", "care_staff", care_home="solgaarden")
    raw = (tmp_path / "t.sqlite").read_bytes()
    assert token.encode() not in raw
    assert token_digest(token).encode() in raw
    principal = store.resolve(token)
    assert principal is not None and principal.care_home == "solgaarden"
    with pytest.raises(ValueError, match="care-home"):
        store.issue("bo", "care_staff")


def test_tokens_from_environment_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = TokenStore(tmp_path / "t.sqlite")
    monkeypatch.setenv(ADMIN_TOKEN_ENV, "bootstrap-secret-from-env")
    hashed = tmp_path / "tokens"
    hashed.write_text(f"# digest role name [care home]\n{token_digest('scraper-secret')} technical prometheus\n")
    monkeypatch.setenv(TOKENS_FILE_ENV, str(hashed))
    admin = store.resolve("bootstrap-secret-from-env")
    scraper = store.resolve("scraper-secret")
    assert admin is not None and admin.role == "admin"
    assert scraper is not None and (scraper.role, scraper.name) == ("technical", "prometheus")
    assert store.resolve("guess") is None


def test_care_staff_routes_take_the_staff_login_of_one_care_home(app: FastAPI, client: TestClient,
                                                                  tokens: dict[str, str]) -> None:
    """``own_auth`` is not a hole: /falls/* accepts the care-staff login (scoped to its home) and nothing else."""
    from hub.alerts.auth import hash_password

    falls = next(s for s in app.state.hub.services if s.name == "falls")
    falls.store.add_staff("matrix-anna", "solgaarden", "Anna", hash_password("pw for the matrix"), ["101"])
    login = client.post("/falls/login", json={"username": "matrix-anna", "password": "pw for the matrix"})
    assert login.status_code == 200, login.text
    me = client.get("/falls/me", headers={"Authorization": f"Bearer {login.json()['token']}"})
    assert me.status_code == 200 and me.json()["care_home"] == "solgaarden"
    for role in ("admin", "care_staff"):
        assert client.get("/falls/me", headers={"Authorization": f"Bearer {tokens[role]}"}).status_code == 401
