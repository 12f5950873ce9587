"""HTTP API of the care-staff app (``/falls/...``), its live feed (SSE) and the PWA's static files (``/app/``).

Every alert route is scoped to the logged-in staff member's care home: another home's
alert answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from hub.alerts.auth import new_token, token_digest, verify_password
from hub.alerts.centre import AlertNotFound
from hub.alerts.model import TransitionError
from hub.alerts.store import Staff, Subscription

if TYPE_CHECKING:
    from hub.services.falls import FallAlertService

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
COOKIE = "falls_session"
LOGIN_ATTEMPTS, LOGIN_WINDOW_S = 5, 900.0  # wrong passwords per user name before a 15-minute pause
TOKEN_STAFF_ID = 0  # staff ids of accounts start at 1 (SQLite rowid)
_WEB_SUFFIXES = frozenset({".html", ".js", ".css", ".png", ".svg", ".webmanifest"})
_MEDIA_TYPES = {".webmanifest": "application/manifest+json", ".js": "text/javascript", ".svg": "image/svg+xml"}


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class StaffOut(BaseModel):
    id: int
    username: str
    care_home: str
    name: str
    on_shift: bool
    rooms: list[str]
    language: str


class LoginOut(BaseModel):
    token: str
    staff: StaffOut


class StaffUpdate(BaseModel):
    on_shift: bool | None = None
    language: Literal["da", "en"] | None = None


class AlertOut(BaseModel):
    """An alert on the wire; ``clip`` is the skeleton clip (keypoints, no pixels)."""

    id: str
    care_home: str
    room: str
    resident: str | None
    kind: str
    severity: str
    state: str
    text_da: str
    text_en: str
    started_ts: int
    opened_at: float
    acknowledged_at: float | None
    acknowledged_by: str | None
    resolved_at: float | None
    resolution: str | None
    round: int
    muted: bool
    clip: dict[str, Any] | None = None
    log: list[dict[str, Any]] | None = None
    notifications: list[dict[str, Any]] | None = None


class PushKeys(BaseModel):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)


class PushSubscriptionIn(BaseModel):
    """The browser's ``PushSubscription.toJSON()``."""

    endpoint: str = Field(max_length=2048, pattern=r"^https://")
    keys: PushKeys
    expirationTime: float | None = None


def _token_staff(request: Request, token: str) -> Staff | None:
    """A hub API token of role ``care_staff`` as a staff member of its care home (no account behind it)."""
    tokens = getattr(request.app.state, "tokens", None)
    principal = tokens.resolve(token) if tokens is not None else None
    if principal is None or principal.role != "care_staff" or not principal.care_home:
        return None
    return Staff(TOKEN_STAFF_ID, f"token:{principal.name}", principal.care_home, principal.name, on_shift=False)


def build_router(service: FallAlertService) -> APIRouter:
    router = APIRouter()
    store, centre = service.store, service.centre

    def current_staff(request: Request) -> Staff:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE)
        staff = store.staff_for_token(token_digest(token), service.clock()) if token else None
        if staff is None and token and service.settings.accept_api_tokens:
            staff = _token_staff(request, token)
        if staff is None:
            raise HTTPException(401, detail="Log in to see the alerts of your care home.")
        return staff

    def account(staff: Staff = Depends(current_staff)) -> Staff:
        """Routes that change a personal account (settings, push subscriptions, logout)."""
        if staff.id == TOKEN_STAFF_ID:
            raise HTTPException(403, detail="An API token has no staff account; log in as a staff member for this.")
        return staff

    def out(alert_id: str, staff: Staff, with_log: bool = False) -> AlertOut:
        try:
            alert = centre.alert_for(alert_id, staff)
        except AlertNotFound as exc:
            raise HTTPException(404, detail=str(exc)) from None
        if not with_log:
            return AlertOut(**alert.public())
        return AlertOut(**alert.public(), log=store.alert_log(alert_id), notifications=store.notifications(alert_id))

    failures: dict[str, deque[float]] = defaultdict(deque)

    @router.post("/falls/login", response_model=LoginOut, tags=["falls"])
    def login(body: LoginIn, request: Request, response: Response) -> LoginOut:
        now = service.clock()
        recent = failures[body.username]
        while recent and recent[0] < now - LOGIN_WINDOW_S:
            recent.popleft()
        if len(recent) >= LOGIN_ATTEMPTS:
            raise HTTPException(429, detail="Too many wrong passwords for this user; try again in 15 minutes.")
        found = store.staff_login(body.username)
        if found is None or not verify_password(body.password, found[1]):
            recent.append(now)
            raise HTTPException(401, detail="The user name or the password is wrong.")
        failures.pop(body.username, None)
        staff, _ = found
        token = new_token()
        store.add_token(token_digest(token), staff.id, now, now + service.settings.token_ttl_s)
        response.set_cookie(
            COOKIE,
            token,
            max_age=service.settings.token_ttl_s,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return LoginOut(token=token, staff=StaffOut(**staff.public()))

    @router.post("/falls/logout", status_code=204, tags=["falls"])
    def logout(request: Request, response: Response, staff: Staff = Depends(account)) -> None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        store.drop_token(token_digest(token))
        response.delete_cookie(COOKIE)

    @router.get("/falls/me", response_model=StaffOut, tags=["falls"])
    def me(staff: Staff = Depends(current_staff)) -> StaffOut:
        return StaffOut(**staff.public())

    @router.patch("/falls/me", response_model=StaffOut, tags=["falls"])
    def update_me(body: StaffUpdate, staff: Staff = Depends(account)) -> StaffOut:
        store.update_staff(staff.id, on_shift=body.on_shift, language=body.language)
        updated = store.staff(staff.id)
        assert updated is not None
        return StaffOut(**updated.public())

    @router.get("/falls/alerts", response_model=list[AlertOut], tags=["falls"])
    def alerts(
        state: Literal["active", "history"] = "active", limit: int = 100, staff: Staff = Depends(current_staff)
    ) -> list[AlertOut]:
        found = store.alerts_of_home(staff.care_home, active=state == "active", limit=max(1, min(limit, 500)))
        return [AlertOut(**a.public(with_clip=state == "active")) for a in found]

    @router.get("/falls/alerts/{alert_id}", response_model=AlertOut, tags=["falls"])
    def alert(alert_id: str, staff: Staff = Depends(current_staff)) -> AlertOut:
        return out(alert_id, staff, with_log=True)

    @router.post("/falls/alerts/{alert_id}/ack", response_model=AlertOut, tags=["falls"])
    def acknowledge(alert_id: str, staff: Staff = Depends(current_staff)) -> AlertOut:
        return _act(service.acknowledge, alert_id, staff)

    @router.post("/falls/alerts/{alert_id}/resolve", response_model=AlertOut, tags=["falls"])
    def resolve(alert_id: str, staff: Staff = Depends(current_staff)) -> AlertOut:
        return _act(service.resolve, alert_id, staff)

    def _act(action: Any, alert_id: str, staff: Staff) -> AlertOut:
        try:
            action(alert_id, staff)
        except AlertNotFound as exc:
            raise HTTPException(404, detail=str(exc)) from None
        except TransitionError as exc:
            raise HTTPException(409, detail=str(exc)) from None
        return out(alert_id, staff, with_log=True)

    @router.get("/falls/push/key", tags=["falls"])
    def push_key() -> dict[str, str]:
        return {"public_key": service.vapid_public_key}

    @router.post("/falls/push/subscriptions", status_code=201, tags=["falls"])
    def subscribe(body: PushSubscriptionIn, staff: Staff = Depends(account)) -> dict[str, str]:
        if not service.settings.push_host_allowed(urlsplit(body.endpoint).hostname or ""):
            raise HTTPException(422, detail="The push endpoint does not belong to a known browser push service.")
        sub = Subscription(body.endpoint, staff.id, body.keys.p256dh, body.keys.auth)
        store.add_subscription(sub, service.clock())
        return {"endpoint": body.endpoint}

    @router.delete("/falls/push/subscriptions", status_code=204, tags=["falls"])
    def unsubscribe(endpoint: str, staff: Staff = Depends(account)) -> None:
        store.drop_subscription(endpoint, staff.id)

    @router.get("/falls/stream", tags=["falls"])
    async def stream(staff: Staff = Depends(current_staff)) -> EventSourceResponse:
        listener = service.feed.subscribe(staff.care_home)

        async def events() -> AsyncIterator[dict[str, str]]:
            try:
                yield {"event": "hello", "data": json.dumps({"care_home": staff.care_home, "ts": time.time()})}
                while True:
                    message = await listener.queue.get()
                    yield {"event": message["type"], "data": json.dumps(message, ensure_ascii=False)}
            finally:
                service.feed.unsubscribe(listener)

        return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})

    @router.get("/app", include_in_schema=False)
    def app_root() -> RedirectResponse:
        return RedirectResponse("/app/")

    @router.get("/app/{name:path}", include_in_schema=False)
    def app_file(name: str) -> FileResponse:
        path = (WEB_DIR / (name or "index.html")).resolve()
        if WEB_DIR not in path.parents or not path.is_file() or path.suffix not in _WEB_SUFFIXES:
            raise HTTPException(404, detail=f"The app has no file {name}.")
        headers = {"Cache-Control": "no-cache"}
        if path.name == "sw.js":
            headers["Service-Worker-Allowed"] = "/app/"
        return FileResponse(path, media_type=_MEDIA_TYPES.get(path.suffix), headers=headers)

    return router
