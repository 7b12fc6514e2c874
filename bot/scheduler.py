"""APScheduler wiring: one cron job per schedule, plus a sweep that catches up missed slots.

APScheduler 3 keeps its jobs in memory in each process and never shares a job store: every
process computes the same slots from the schedules table, and the durable claim per
(channel, kind, slot) in the database decides which process posts. See README "Exactly once".
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor as Pool
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.posting import Poster
from bot.schedule import slots_between, trigger
from bot.settings import Settings
from domain.schedule import ChannelSchedule
from storage import channels, claims
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger("impact.scheduler")

LOOKBACK = timedelta(days=8)  # how far back a sweep looks for slots to post or record as skipped
FANOUT_WORKERS = 8


class SlotScheduler:
    """Runs every channel's slots in this process; safe to run in many processes at once."""

    def __init__(self, settings: Settings, db: Database, poster: Poster) -> None:
        self.settings = settings
        self.db = db
        self.poster = poster
        self.grace = timedelta(hours=settings.grace_hours)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(FANOUT_WORKERS)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._job_specs: dict[str, str] = {}
        self._running = threading.Lock()
        self._again = threading.Event()

    def start(self) -> None:
        self.scheduler.start()
        self.scheduler.add_job(
            self.sync,
            IntervalTrigger(seconds=self.settings.sweep_seconds, timezone=UTC),
            id="sync",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
            # A tick during a long sweep (a thousand channels at the workspace's pace) returns at
            # once, asking the sweep for one more round, instead of being skipped with a warning.
            max_instances=3,
        )

    def sync_soon(self) -> None:
        """Pick up a changed schedule now rather than at the next sweep."""
        self.wake()

    def wake(self) -> None:
        """Run the sweep now (or, when one is running, right after it): one sweep at a time per
        process sees every due slot, so it can interleave workspaces and settle the DMs."""
        self._again.set()
        if self._running.locked():
            return  # the running sweep goes round once more when it ends
        try:
            self.scheduler.modify_job("sync", next_run_time=datetime.now(UTC))
        except Exception as e:  # noqa: BLE001 - not started (tests) or shutting down: next sweep
            log.debug("could not wake the sweep: %r", e)

    def shutdown(self, wait: bool = False) -> None:
        self.scheduler.shutdown(wait=wait)

    def sync(self) -> None:
        """Match the cron jobs to the schedules table, then post or record any due slot; once
        more if a slot fell due (or a schedule changed) while it ran."""
        if not self._running.acquire(blocking=False):
            self._again.set()  # the running sweep goes round once more when it ends
            return
        try:
            while True:
                self._again.clear()
                self._sync_once()
                if not self._again.is_set():
                    return
        finally:
            self._running.release()

    def _sync_once(self) -> None:
        try:
            with self.db.session() as session:
                schedules = channels.list_schedules(session)
        except Exception as e:
            log.warning("could not read schedules: %r", e)
            return
        wanted: dict[str, ChannelSchedule] = {f"schedule:{s.id}": s for s in schedules}
        for job_id in list(self._job_specs):
            if job_id not in wanted:
                self.scheduler.remove_job(job_id)
                del self._job_specs[job_id]
        for job_id, schedule in wanted.items():
            signature = repr(schedule.spec)
            if self._job_specs.get(job_id) == signature:
                continue
            self.scheduler.add_job(
                self.run_schedule,
                trigger(schedule.spec),
                id=job_id,
                args=[schedule.id],
                replace_existing=True,
            )
            self._job_specs[job_id] = signature
        self.sweep(schedules)

    def run_schedule(self, schedule_id: int) -> None:
        """The cron job of one schedule: its slot is due, so the sweep runs now.

        The cron job does not post itself: a thousand channels due at 09:00 would be a thousand
        jobs queued behind each other, holding other workspaces' slots up behind them.
        """
        self.wake()

    def sweep(self, schedules: Iterable[ChannelSchedule], now: datetime | None = None) -> dict[str, str]:
        """Post every due slot (concurrently across channels); record those past grace as skipped."""
        now = now or utcnow()
        due: list[tuple[ChannelSchedule, datetime]] = []
        results: dict[str, str] = {}
        for schedule in schedules:
            for slot_at, action in self.plan(schedule, now):
                key = result_key(schedule, slot_at)
                if action == "post":
                    due.append((schedule, slot_at))
                else:
                    note = action
                    if claims.record_slot(
                        self.db,
                        schedule.workspace_id,
                        schedule.channel_id,
                        schedule.spec.kind,
                        slot_at,
                        "skipped",
                        note,
                    ):
                        log.warning("skipped slot %s: %s", key, note)
                    results[key] = "skipped"
        if due:
            with Pool(max_workers=min(FANOUT_WORKERS, len(due))) as pool:
                futures = {
                    result_key(s, at): pool.submit(self._safe_run, s, at, now) for s, at in interleaved(due)
                }
            results.update({key: f.result() for key, f in futures.items()})
        # After the channel posts: the DMs they owe (and any left from before a restart).
        self.poster.featured.deliver(now)
        return results

    def _safe_run(self, schedule: ChannelSchedule, slot_at: datetime, now: datetime) -> str:
        try:
            return self.poster.run_slot(schedule, slot_at, now=now)
        except Exception:
            log.exception("slot %s %s failed", schedule.channel_id, slot_at)
            return "error"

    def plan(self, schedule: ChannelSchedule, now: datetime) -> list[tuple[datetime, str]]:
        """Slots of this schedule that need doing: 'post', or a reason to skip."""
        since = max(schedule.created_at, now - LOOKBACK)
        slots = [s.astimezone(UTC) for s in slots_between(schedule.spec, since, now)]
        if not slots:
            return []
        with self.db.session() as session:
            known = claims.known_slots(
                session, schedule.workspace_id, schedule.channel_id, schedule.spec.kind, since
            )
        zone = ZoneInfo(schedule.spec.timezone)
        plan: list[tuple[datetime, str]] = []
        for slot_at in slots:
            status = known.get(slot_at)
            if status is not None and status != "claimed":
                continue
            local_day = slot_at.astimezone(zone).date().isoformat()
            if status is None and local_day in schedule.skip_dates:
                plan.append((slot_at, f"skip date {local_day}"))
            elif status is None and now - slot_at > self.grace:
                late = now - slot_at
                plan.append((slot_at, f"missed by {late} while the bot was down (grace {self.grace})"))
            else:
                # New, or claimed by a process that may have died (run_slot checks the lease).
                plan.append((slot_at, "post"))
        return plan


def result_key(schedule: ChannelSchedule, slot_at: datetime) -> str:
    """A slot as the sweep reports it: the workspace too, as a shared (Slack Connect) channel
    can have a schedule in each workspace."""
    return f"{schedule.team_id}|{schedule.channel_id}|{schedule.spec.kind}|{slot_at.isoformat()}"


def interleaved(due: list[tuple[ChannelSchedule, datetime]]) -> list[tuple[ChannelSchedule, datetime]]:
    """Due slots taking turns between workspaces, so one workspace's thousand channels (paced
    to its rate) never hold another's slot up; each process takes its workspace's channels in
    its own random order, so processes sharing a fan-out rarely reach for the same claim."""
    lanes: dict[int, list[tuple[ChannelSchedule, datetime]]] = {}
    for item in due:
        lanes.setdefault(item[0].workspace_id, []).append(item)
    for lane in lanes.values():
        random.shuffle(lane)
    order: list[tuple[ChannelSchedule, datetime]] = []
    for turn in range(max(len(lane) for lane in lanes.values())):
        order.extend(lane[turn] for lane in lanes.values() if turn < len(lane))
    return order
