"""FastAPI dependencies shared by the routers: the hub's services from app state."""

from __future__ import annotations

from fastapi import Request

from hub.jobs import JobRunner


def get_jobs(request: Request) -> JobRunner:
    return request.app.state.jobs
