"""Who may call which hub endpoint: roles, bearer tokens (only their SHA-256 is stored) and the policy table.

Every route must have an entry in :data:`POLICY` (exact ``"METHOD /path"`` or a router prefix
``"* /prefix/"``); a route without one is refused (fail closed) and fails the role-matrix test.
Tokens come from the token store (``python -m hub.security issue ...``), from
``$KOMMUNE_HUB_ADMIN_TOKEN`` (bootstrap admin) or from ``$KOMMUNE_HUB_TOKENS_FILE`` (lines of
``<sha256> <role> <name> [care home]``), never from the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException, Request

log = logging.getLogger(__name__)

Role = Literal["device", "care_staff", "technical", "planner", "admin"]
ROLES: tuple[Role, ...] = ("device", "care_staff", "technical", "planner", "admin")
ADMIN_TOKEN_ENV = "KOMMUNE_HUB_ADMIN_TOKEN"
TOKENS_FILE_ENV = "KOMMUNE_HUB_TOKENS_FILE"
TOKEN_DB = "api_tokens.sqlite"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``care_home`` scopes a care-staff token to one care home."""

    name: str
    role: Role
    care_home: str | None = None


@dataclass(frozen=True)
class Policy:
    """Who may call a route: listed roles, anyone (``public``), or the route's own login (``own_auth``)."""

    roles: frozenset[str] = frozenset()
    public: bool = False
    own_auth: str | None = None

    def allows(self, role: str | None) -> bool:
        return self.public or (role is not None and role in self.roles)


def allow(*roles: Role) -> Policy:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return Policy(roles=frozenset(roles))


PUBLIC = Policy(public=True)
FALLS_STAFF = Policy(
    roles=frozenset({"care_staff"}),
    own_auth=(
        "care-staff session from POST /falls/login (hub.alerts), or a care_staff API token where the hub config"
        " sets falls.accept_api_tokens; scoped to the staff member's / token's care home"
    ),
)
OPERATIONS = allow("technical", "admin")

# "METHOD /path" for one route, "* /path" for every method, "* /prefix/" for a whole router.
POLICY: dict[str, Policy] = {
    "GET /health": PUBLIC,  # load-balancer and systemd probes; says only up/degraded
    "GET /metrics": OPERATIONS,  # Prometheus scrapes with a technical token
    "GET /devices": OPERATIONS,
    "GET /devices/{device_id}": OPERATIONS,
    "PUT /devices/{device_id}": allow("admin"),  # pre-registration (site binding) is an administrator's act
    "GET /devices/{device_id}/liveness": OPERATIONS,
    "GET /devices/{device_id}/measurements": allow("technical", "planner", "admin"),
    "GET /dead-letters": OPERATIONS,
    # care-staff web app: static files and login are open; everything else is the staff session's
    "GET /app": PUBLIC,
    "GET /app/{name:path}": PUBLIC,
    "POST /falls/login": PUBLIC,
    "GET /falls/push/key": PUBLIC,  # the VAPID public key
    "* /falls/": FALLS_STAFF,
    # use cases
    "* /road/": allow("technical", "admin"),  # road-damage work orders: the technical department
    "POST /road/orders/{order_id}/status": Policy(own_auth="contractor token of the order's area (hub.services.road)"),
    "POST /road/dispatch": Policy(own_auth="road admin token from the hub config (hub.services.road)"),
    "* /traffic/": allow("technical", "planner", "admin"),  # counts feed traffic planning
    "* /energy/": OPERATIONS,  # building findings and setpoint commands: the technical department
    # optimisation
    "* /planning/": allow("planner", "admin"),
    "* /fleet/": allow("planner", "admin"),
    # signed rollout (hub.rollout)
    "* /rollout/": allow("admin"),
    "GET /rollout/devices": OPERATIONS,
    "GET /rollout/releases": OPERATIONS,
    "GET /rollout/artifacts/{digest}": allow("device", "admin"),
}


def policy_for(method: str, path: str, table: dict[str, Policy] | None = None) -> Policy | None:
    """The policy of a route template (``/devices/{device_id}``): exact first, then the longest prefix."""
    table = POLICY if table is None else table
    for key in (f"{method} {path}", f"* {path}"):
        if key in table:
            return table[key]
    best: tuple[int, Policy] | None = None
    for key, policy in table.items():
        verb, _, prefix = key.partition(" ")
        matches = prefix.endswith("/") and verb in ("*", method) and path.startswith(prefix)
        if matches and (best is None or len(prefix) > best[0]):
            best = (len(prefix), policy)
    return best[1] if best else None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """API tokens at rest as SHA-256 digests in SQLite, plus the env/file sources."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
                " care_home TEXT, created REAL NOT NULL, expires REAL, revoked REAL)"
            )

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def issue(self, name: str, role: Role, care_home: str | None = None, days: float | None = None) -> str:
        """Create a token; the plain token is returned once and never stored."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {ROLES}")
        if role == "care_staff" and not care_home:
            raise ValueError("a care_staff token needs --care-home")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._db() as db:
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (token_digest(token), name, role, care_home, now, now + days * 86400 if days else None),
            )
        log.info("api token issued", extra={"token_name": name, "role": role})
        return token

    def revoke(self, name: str) -> int:
        with self._db() as db:
            count = db.execute(
                "UPDATE tokens SET revoked=? WHERE name=? AND revoked IS NULL", (self.clock(), name)
            ).rowcount
        return count

    def list(self) -> list[dict[str, object]]:
        with self._db() as db:
            rows = db.execute("SELECT name, role, care_home, created, expires, revoked FROM tokens ORDER BY created")
            return [dict(r) for r in rows]

    def resolve(self, token: str) -> Principal | None:
        digest = token_digest(token)
        with self._db() as db:
            row = db.execute(
                "SELECT name, role, care_home FROM tokens WHERE digest=? AND revoked IS NULL"
                " AND (expires IS NULL OR expires>?)",
                (digest, self.clock()),
            ).fetchone()
        if row is not None:
            return Principal(row["name"], row["role"], row["care_home"])
        return _from_environment(digest)


def _from_environment(digest: str) -> Principal | None:
    admin = os.environ.get(ADMIN_TOKEN_ENV)
    if admin and hmac.compare_digest(token_digest(admin), digest):
        return Principal("bootstrap-admin", "admin")
    path = os.environ.get(TOKENS_FILE_ENV)
    if path and Path(path).is_file():
        for line in Path(path).read_text().splitlines():
            parts = line.split()
            valid = len(parts) >= 3 and not line.startswith("#") and parts[1] in ROLES
            if valid and hmac.compare_digest(parts[0], digest):
                return Principal(parts[2], parts[1], parts[3] if len(parts) > 3 else None)  # type: ignore[arg-type]
    return None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(request: Request) -> Principal:
    """The caller's principal, or 401."""
    token = bearer_token(request)
    principal = request.app.state.tokens.resolve(token) if token else None
    if principal is None:
        raise HTTPException(
            401,
            detail="Send a valid API token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    return principal


def _refuse(principal: Principal, method: str, path: str) -> HTTPException:
    return HTTPException(403, detail=f"The {principal.role} role may not call {method} {path}.")


def enforce_policy(request: Request) -> None:
    """App-wide dependency: look up the matched route's policy and apply it."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    policy = policy_for(request.method, path)
    if policy is None:
        log.error("route without access policy refused", extra={"method": request.method, "path": path})
        raise HTTPException(403, detail=f"No access policy is declared for {request.method} {path}, so it is closed.")
    if policy.public or policy.own_auth:
        return
    principal = authenticate(request)
    if not policy.allows(principal.role):
        raise _refuse(principal, request.method, path)


def require_role(*roles: Role) -> Callable[[Request], Principal]:
    """Route dependency that returns the caller's :class:`Principal` when its role is one of ``roles``."""
    allowed = allow(*roles)

    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if not allowed.allows(principal.role):
            route = request.scope.get("route")
            raise _refuse(principal, request.method, getattr(route, "path", request.url.path))
        return principal

    return dependency


def check_care_home(principal: Principal, care_home: str) -> None:
    """403 unless a care-staff principal belongs to ``care_home`` (other roles are not scoped)."""
    if principal.role == "care_staff" and principal.care_home != care_home:
        raise HTTPException(403, detail=f"Your token is for care home {principal.care_home!r}, not {care_home!r}.")


def install(app: FastAPI, state_dir: Path) -> None:
    """Call right after ``FastAPI(...)`` and before any route is added: every route then passes the policy."""
    app.state.tokens = TokenStore(Path(state_dir) / TOKEN_DB)
    app.router.dependencies.append(Depends(enforce_policy))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.security", description="Issue, list and revoke API tokens.")
    parser.add_argument("--state-dir", type=Path, default=Path("var/hub"), help="the hub's state dir")
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue", help="issue a token and print it once")
    issue.add_argument("name", help="who holds it, e.g. prometheus, anna.jensen, lamp-017")
    issue.add_argument("--role", required=True, choices=ROLES)
    issue.add_argument("--care-home", default=None, help="required for care_staff")
    issue.add_argument("--days", type=float, default=None, help="expiry; default never")
    revoke = sub.add_parser("revoke", help="revoke every token of a holder")
    revoke.add_argument("name")
    sub.add_parser("list", help="list tokens (never the tokens themselves)")
    args = parser.parse_args(argv)
    store = TokenStore(args.state_dir / TOKEN_DB)
    if args.command == "issue":
        try:
            print(store.issue(args.name, args.role, args.care_home, args.days))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.command == "revoke":
        count = store.revoke(args.name)
        print(f"revoked {count} token(s) of {args.name}")
        return 0 if count else 1
    else:
        for row in store.list():
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
