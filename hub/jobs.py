"""Background jobs for long optimisation runs, so the API stays responsive.

Jobs run in a small thread pool inside the hub process; their state and result
are kept in SQLite so a finished plan survives a hub restart. A job that was
running when the hub stopped is marked failed on the next start.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
JobFn = Callable[[ProgressFn], Any]


@dataclass
class JobInfo:
    """State of one background job."""

    id: str
    kind: str
    status: str = "queued"  # queued | running | done | failed
    progress: float = 0.0
    message: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def summary(self) -> dict[str, Any]:
        """Everything but the (possibly large) result."""
        data = asdict(self)
        data.pop("result")
        return data


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL,
    message TEXT NOT NULL, params TEXT NOT NULL, result TEXT, error TEXT,
    created REAL NOT NULL, finished REAL
)
"""


class JobRunner:
    """Runs callables in the background and tracks their progress."""

    def __init__(self, db_path: Path | str = ":memory:", workers: int = 1) -> None:
        self._db = sqlite3.connect(str(db_path), check_same_thread=False)
        self._db.execute(_SCHEMA)
        self._db.execute(
            "UPDATE jobs SET status='failed', error='hub stopped while the job ran' "
            "WHERE status IN ('queued','running')"
        )
        self._db.commit()
        self._lock = threading.Lock()
        self._live: dict[str, JobInfo] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")

    def submit(self, kind: str, fn: JobFn, params: dict[str, Any] | None = None) -> str:
        job = JobInfo(id=uuid.uuid4().hex[:12], kind=kind, params=params or {})
        with self._lock:
            self._live[job.id] = job
            self._save(job)
        self._pool.submit(self._run, job, fn)
        log.info("job submitted", extra={"job": job.id, "kind": kind})
        return job.id

    def get(self, job_id: str) -> JobInfo | None:
        with self._lock:
            if job_id in self._live:
                return self._live[job_id]
            row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _from_row(row) if row else None

    def list(self, kind: str | None = None) -> list[JobInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE (? IS NULL OR kind=?) ORDER BY created DESC", (kind, kind)
            ).fetchall()
            live = dict(self._live)
        return [live.get(row[0]) or _from_row(row) for row in rows]

    def wait(self, job_id: str, timeout: float = 60.0) -> JobInfo:
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if job.status in ("done", "failed") or time.monotonic() > deadline:
                return job
            time.sleep(0.05)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: JobInfo, fn: JobFn) -> None:
        def progress(fraction: float, message: str = "") -> None:
            job.progress = max(0.0, min(1.0, float(fraction)))
            job.message = message

        job.status = "running"
        try:
            job.result = fn(progress)
            job.status, job.progress = "done", 1.0
        except Exception as exc:  # a failed job must not take the runner down
            log.exception("job failed", extra={"job": job.id})
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        job.finished = time.time()
        with self._lock:
            self._save(job)
            self._live.pop(job.id, None)

    def _save(self, job: JobInfo) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                job.id,
                job.kind,
                job.status,
                job.progress,
                job.message,
                json.dumps(job.params),
                json.dumps(job.result, default=str) if job.result is not None else None,
                job.error,
                job.created,
                job.finished,
            ),
        )
        self._db.commit()


def _from_row(row: tuple[Any, ...]) -> JobInfo:
    return JobInfo(
        id=row[0],
        kind=row[1],
        status=row[2],
        progress=row[3],
        message=row[4],
        params=json.loads(row[5]),
        result=json.loads(row[6]) if row[6] else None,
        error=row[7],
        created=row[8],
        finished=row[9],
    )
