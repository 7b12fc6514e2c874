"""Fan-out: one sweep posting N channels due in the same minute, versus posting them one by one.

Runs the real SlotScheduler and Poster against the local Slack stand-in (tests/slack_standin.py)
with chat.postMessage delayed to stand in for Slack's latency, and a SQLite file in a temp dir.
Prints the speed-up of the concurrent sweep; asserts nothing.

    .venv/bin/python -m bench.fanout [--channels 16] [--delay 0.2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.scheduler import FANOUT_WORKERS, SlotScheduler
from bot.services import build_services
from bot.settings import Settings
from domain.schedule import ChannelSchedule, ScheduleSpec
from domain.story import Draft
from storage import queries
from storage.db import Database
from storage.models import ScheduleRow
from tests.slack_standin import SlackStandin

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TEAM = "T111"


def make_scheduler(standin: SlackStandin, db: Database) -> SlotScheduler:
    """A SlotScheduler wired as tests/test_slots.py wires it (not started: sweep is called directly)."""
    settings = Settings(
        bot_token="xoxb-bench",
        signing_secret="bench-signing-secret",
        api_url=standin.base_url,
        database_url=db.url,
        managers=frozenset({"UBOSS"}),
    )
    scheduler = build_services(settings, db).scheduler
    assert scheduler is not None
    return scheduler


def add_channels(db: Database, channels: list[str]) -> list[ChannelSchedule]:
    """A weekly Monday 09:00 UTC story schedule per channel, made an hour before the slot."""
    with db.session() as s:
        ws = queries.workspace_id(s, TEAM)
        for channel in channels:
            channels.set_channel_schedules(s, ws, channel, [ScheduleSpec("story", ("mon",), "09:00", "UTC")])
    wanted = set(channels)
    with db.session() as s:
        # A sweep looks back only to created_at: date the schedules before the 2026 slot.
        for row in s.scalars(select(ScheduleRow)):
            row.created_at = MONDAY_9 - timedelta(hours=1)
    with db.session() as s:
        return [x for x in channels.list_schedules(s) if x.channel_id in wanted]


def add_stories(db: Database, count: int) -> None:
    with db.session() as s:
        ws = queries.workspace_id(s, TEAM)
        for i in range(count):
            draft = Draft(customer=f"Customer {i}", quote=f"Quote {i}", impact="Saved a day", tags=("ops",))
            created = MONDAY_9 - timedelta(days=2 + i)
            queries.add_story(s, ws, draft, f"U0AUTHOR{i % 5}", created_at=created)


def channel_posts(standin: SlackStandin, channels: list[str]) -> int:
    wanted = set(channels)
    return sum(1 for c in standin.calls_to("chat.postMessage") if c.args.get("channel") in wanted)


@dataclass(frozen=True)
class Round:
    sequential: float  # seconds for N slots through poster.run_slot, one after another
    swept: float  # seconds for one SlotScheduler.sweep of N due slots
    sequential_posts: int  # chat.postMessage calls to the N sequential channels
    swept_posts: int  # chat.postMessage calls to the N swept channels
    swept_messages: int  # every chat.postMessage during the sweep (channel posts and DMs)
    results: Counter[str]  # what sweep() returned per slot


def one_round(standin: SlackStandin, db: Database, worker: SlotScheduler, n: int, r: int) -> Round:
    """Time N slots posted one by one (poster.run_slot), then N other slots posted by one sweep."""
    now = MONDAY_9 + timedelta(seconds=5)
    seq_channels = [f"CSEQ{r}X{i:03d}" for i in range(n)]
    par_channels = [f"CPAR{r}X{i:03d}" for i in range(n)]
    seq_schedules = add_channels(db, seq_channels)
    par_schedules = add_channels(db, par_channels)

    start = time.perf_counter()
    for schedule in seq_schedules:
        worker.poster.run_slot(schedule, MONDAY_9, now=now)
    sequential = time.perf_counter() - start

    before = len(standin.calls_to("chat.postMessage"))
    start = time.perf_counter()
    results = worker.sweep(par_schedules, now=now)
    swept = time.perf_counter() - start
    messages = len(standin.calls_to("chat.postMessage")) - before

    return Round(
        sequential=sequential,
        swept=swept,
        sequential_posts=channel_posts(standin, seq_channels),
        swept_posts=channel_posts(standin, par_channels),
        swept_messages=messages,
        results=Counter(results.values()),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=16, help="channels due in the same minute")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per chat.postMessage")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    opts = parser.parse_args(argv)
    n = opts.channels

    with tempfile.TemporaryDirectory(prefix="impact-bench-") as tmp, SlackStandin() as standin:
        db = Database(f"sqlite:///{Path(tmp) / 'impact.db'}")
        db.migrate()
        add_stories(db, 50)
        worker = make_scheduler(standin, db)
        # Warm-up (first connections, lazy imports), not timed.
        worker.sweep(add_channels(db, ["CWARM"]), now=MONDAY_9 + timedelta(seconds=5))
        standin.delay("chat.postMessage", opts.delay)
        rounds = [one_round(standin, db, worker, n, r) for r in range(opts.rounds)]
        db.dispose()

    workers = min(FANOUT_WORKERS, n)
    ideal = n / math.ceil(n / workers)
    print(f"fan-out: {n} channels due in one minute, chat.postMessage delayed {opts.delay:.2f} s,")
    print(f"SQLite file in a temp dir, FANOUT_WORKERS={FANOUT_WORKERS}, {opts.rounds} rounds")
    print()
    header = ("round", "one by one s", "per slot s", "sweep s", "speed-up", "posts seq/sweep", "messages")
    print("{:>5} {:>13} {:>11} {:>8} {:>9} {:>16} {:>9}".format(*header))
    for i, x in enumerate(rounds, 1):
        posts = f"{x.sequential_posts}/{x.swept_posts}"
        speed_up = x.sequential / x.swept
        print(
            f"{i:>5} {x.sequential:>13.2f} {x.sequential / n:>11.3f} {x.swept:>8.2f}"
            f" {speed_up:>8.1f}x {posts:>16} {x.swept_messages:>9}"
        )
    seq_med = statistics.median(x.sequential for x in rounds)
    par_med = statistics.median(x.swept for x in rounds)
    print()
    print(f"median one by one : {seq_med:.2f} s ({seq_med / n:.3f} s per slot)")
    print(f"median sweep      : {par_med:.2f} s")
    print(f"speed-up          : {seq_med / par_med:.1f}x (ideal with {workers} workers: {ideal:.1f}x)")
    print(f"channel posts per sweep: {[x.swept_posts for x in rounds]} (expected exactly {n} each)")
    print(
        "messages per sweep (channel posts + DMs telling each story's author): "
        f"{[x.swept_messages for x in rounds]}"
    )
    print(f"sweep results, all rounds: {dict(sum((x.results for x in rounds), Counter()))}")


if __name__ == "__main__":
    main()
