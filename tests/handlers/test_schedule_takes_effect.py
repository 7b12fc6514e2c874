"""A schedule saved or removed in a process takes effect in that process's scheduler at once."""

from __future__ import annotations

import time
from typing import Any

from storage import channels, queries
from tests.conftest import RunningApp
from tests.handlers.test_manager_e2e import command, opened_view, schedule_state, submit


def job_ids(app: RunningApp) -> set[str]:
    assert app.services.scheduler is not None
    return {job.id for job in app.services.scheduler.scheduler.get_jobs()}


def wait_for(condition: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_saved_schedule_is_running_at_once_and_off_stops_it(make_app: Any, db: Any) -> None:
    # The periodic sync is an hour away: only the save itself can make the jobs appear in time.
    app: RunningApp = make_app(db, sweep_seconds=3600)
    assert app.services.scheduler is not None
    app.services.scheduler.start()
    try:
        assert wait_for(lambda: "sync" in job_ids(app))
        assert not any(j.startswith("schedule:") for j in job_ids(app))
        command(app, "schedule", name="sched")
        view = opened_view(app)
        assert submit(app, "schedule_modal", schedule_state(), view["private_metadata"]) == ""
        with app.db.session() as session:
            saved = channels.list_schedules(session, queries.workspace_id(session, "T111"))
        expected = {f"schedule:{s.id}" for s in saved}
        assert len(expected) == 2
        assert wait_for(lambda: expected <= job_ids(app)), job_ids(app)

        command(app, "schedule off", name="off")
        assert wait_for(lambda: not (expected & job_ids(app))), job_ids(app)
    finally:
        app.services.scheduler.shutdown()
