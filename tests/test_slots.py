"""Scheduled slots post exactly once: restarts, racing processes, dead processes, 429s and 5xx."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.http_retry import builtin_handlers
from sqlalchemy import select

from bot.posting import METADATA_EVENT
from bot.scheduler import SlotScheduler
from bot.services import build_services
from domain.schedule import ChannelSchedule, ScheduleSpec, slot_key
from domain.story import Draft
from storage import channels, posts, queries
from storage.db import Database
from storage.models import ScheduleRow, SlotClaim
from tests.conftest import make_settings
from tests.slack_spec import assert_calls_match_spec
from tests.slack_standin import SlackStandin

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LIVE = ("<!channel>", "<!here>", "<@U999>", "<!subteam^S1>", "<http://evil")


@pytest.fixture(autouse=True)
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk adds up to a second of random jitter to each 429 wait; tests need no luck.
    monkeypatch.setattr(builtin_handlers, "random", SimpleNamespace(random=lambda: 0.0))


def scheduler(standin: SlackStandin, db: Database, **overrides: Any) -> SlotScheduler:
    settings = make_settings(standin, db.url, **overrides)
    scheduler = build_services(settings, db).scheduler
    assert scheduler is not None
    return scheduler


def setup_channel(
    db: Database,
    channel: str,
    kind: str = "story",
    when: str = "09:00",
    days: tuple[str, ...] = ("mon",),
    skip: list[str] | None = None,
    created: datetime = MONDAY_9 - timedelta(hours=1),
) -> int:
    with db.session() as s:
        ws = queries.workspace_id(s, "T111")
        channels.set_channel_schedules(
            s, ws, channel, [ScheduleSpec(kind, days, when, "UTC")], skip_dates=skip
        )
    with db.session() as s:
        for row in s.scalars(select(ScheduleRow)):
            row.created_at = created
    return ws


def add_story(db: Database, customer: str = "Acme", quote: str = "It works", **kw: Any) -> None:
    with db.session() as s:
        ws = queries.workspace_id(s, "T111")
        author = kw.pop("author", "U0AUTHOR")
        created = kw.pop("created_at", MONDAY_9 - timedelta(days=2))
        queries.add_story(s, ws, Draft(customer=customer, quote=quote, **kw), author, created_at=created)


def schedules(db: Database) -> list[ChannelSchedule]:
    with db.session() as s:
        return channels.list_schedules(s)


def posts_to(standin: SlackStandin, channel: str) -> list[Any]:
    return [c for c in standin.calls_to("chat.postMessage") if c.args.get("channel") == channel]


def claims(db: Database) -> list[SlotClaim]:
    with db.session() as s:
        return list(s.scalars(select(SlotClaim).order_by(SlotClaim.slot_at)))


def test_slot_posts_once_and_not_again_after_restart(any_db: Database, standin: SlackStandin) -> None:
    setup_channel(any_db, "C1")
    add_story(any_db)
    first = scheduler(standin, any_db)
    assert list(first.sweep(schedules(any_db), now=MONDAY_9 + timedelta(seconds=5)).values()) == ["posted"]
    first.sweep(schedules(any_db), now=MONDAY_9 + timedelta(minutes=1))
    restarted = scheduler(standin, any_db)  # a new process on the same database
    restarted.sweep(schedules(any_db), now=MONDAY_9 + timedelta(minutes=2))
    assert len(posts_to(standin, "C1")) == 1
    [claim] = claims(any_db)
    assert claim.status == "posted" and claim.message_ts
    # The post is stamped with the slot, so a process that dies mid-post can be checked.
    meta = posts_to(standin, "C1")[0].json_arg("metadata")
    assert meta["event_type"] == METADATA_EVENT
    assert meta["event_payload"]["slot"] == slot_key("C1", "story", MONDAY_9)
    assert_calls_match_spec(standin.calls)


def sweep_racing(any_db: Database, standin: SlackStandin, processes: int, now: datetime) -> None:
    """`processes` schedulers, each on an engine of its own as separate processes have, sweep
    the same due slots at the same moment."""
    databases = [Database(any_db.url) for _ in range(processes)]
    workers = [scheduler(standin, d) for d in databases]
    barrier = threading.Barrier(len(workers))

    def run(worker: SlotScheduler) -> None:
        barrier.wait()
        worker.sweep(schedules(any_db), now=now)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for d in databases:
        d.dispose()


def test_racing_processes_post_each_slot_once(any_db: Database, standin: SlackStandin) -> None:
    channels = [f"C{i}" for i in range(1, 6)]
    for channel in channels:
        setup_channel(any_db, channel)
    add_story(any_db)
    sweep_racing(any_db, standin, 4, MONDAY_9 + timedelta(seconds=3))
    for channel in channels:
        assert len(posts_to(standin, channel)) == 1, channel
    assert {c.status for c in claims(any_db)} == {"posted"}


def test_missed_slot_is_late_within_grace_and_skipped_after(
    db: Database, standin: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    setup_channel(db, "C1")
    add_story(db)
    worker = scheduler(standin, db)
    # Down from Monday 08:00 until 14:00: five hours late is within the 6-hour grace.
    assert list(worker.sweep(schedules(db), now=MONDAY_9 + timedelta(hours=5)).values()) == ["posted"]
    # The next Monday is missed by seven hours: skipped and logged, never posted.
    caplog.set_level(logging.WARNING)
    result = worker.sweep(schedules(db), now=MONDAY_9 + timedelta(days=7, hours=7))
    assert list(result.values()) == ["skipped"]
    assert "missed by" in caplog.text
    assert len(posts_to(standin, "C1")) == 1
    assert [c.status for c in claims(db)] == ["posted", "skipped"]


def test_schedule_made_after_the_slot_time_waits_for_the_next_one(
    db: Database, standin: SlackStandin
) -> None:
    setup_channel(db, "C1", created=MONDAY_9 + timedelta(minutes=1))
    add_story(db)
    assert scheduler(standin, db).sweep(schedules(db), now=MONDAY_9 + timedelta(minutes=2)) == {}
    assert posts_to(standin, "C1") == []


def test_skip_dates_post_nothing(db: Database, standin: SlackStandin) -> None:
    setup_channel(db, "C1", skip=["2026-11-23"])
    add_story(db)
    result = scheduler(standin, db).sweep(schedules(db), now=MONDAY_9 + timedelta(minutes=1))
    assert list(result.values()) == ["skipped"] and posts_to(standin, "C1") == []


def stale_claim(db: Database, ws: int, channel: str) -> None:
    with db.session() as s:
        s.add(
            SlotClaim(
                workspace_id=ws,
                channel_id=channel,
                kind="story",
                slot_at=MONDAY_9,
                status="claimed",
                owner="dead-host:1",
                claimed_at=MONDAY_9,
            )
        )


def test_dead_process_that_had_posted_is_not_doubled(db: Database, standin: SlackStandin) -> None:
    ws = setup_channel(db, "C1")
    add_story(db)
    stale_claim(db, ws, "C1")
    # The dead process's post reached Slack before it died.
    with db.session() as s:
        [story] = queries.live_stories(s, ws)
    payload = {"slot": slot_key("C1", "story", MONDAY_9), "story_id": story.id}
    metadata = {"event_type": METADATA_EVENT, "event_payload": payload}
    ts = standin.add_message(
        "C1", "Customer of the week", user="UBOT", metadata=metadata, ts="1795424405.000100"
    )
    worker = scheduler(standin, db, slot_lease_seconds=60)
    # Within the lease the claim still belongs to the other process.
    assert worker.sweep(schedules(db), now=MONDAY_9 + timedelta(seconds=30)) != {}
    assert posts_to(standin, "C1") == [] and claims(db)[0].status == "claimed"
    worker.sweep(schedules(db), now=MONDAY_9 + timedelta(minutes=5))
    assert posts_to(standin, "C1") == []
    [claim] = claims(db)
    assert (claim.status, claim.message_ts) == ("posted", ts)
    # The post is remembered, so the story counts as featured in this channel.
    with db.session() as s:
        assert posts.featured_story_ids(s, ws, "C1") == {story.id}
    assert standin.calls_to("conversations.history")
    assert_calls_match_spec(standin.calls)


def test_dead_process_that_had_not_posted_is_completed_once(db: Database, standin: SlackStandin) -> None:
    ws = setup_channel(db, "C1")
    add_story(db)
    stale_claim(db, ws, "C1")
    worker = scheduler(standin, db, slot_lease_seconds=60)
    worker.sweep(schedules(db), now=MONDAY_9 + timedelta(minutes=5))
    worker.sweep(schedules(db), now=MONDAY_9 + timedelta(minutes=10))
    assert len(posts_to(standin, "C1")) == 1 and claims(db)[0].status == "posted"


def test_three_channels_behind_429_twice_and_500_once_each_get_one_post(
    db: Database, standin: SlackStandin
) -> None:
    for channel in ("C1", "C2", "C3"):
        setup_channel(db, channel)
    add_story(db)
    standin.fail("chat.postMessage", status=429, times=2, retry_after=1)
    standin.fail("chat.postMessage", status=500, times=1)
    results = scheduler(standin, db).sweep(schedules(db), now=MONDAY_9 + timedelta(seconds=5))
    assert sorted(results.values()) == ["posted"] * 3
    for channel in ("C1", "C2", "C3"):
        assert len(posts_to(standin, channel)) == 1, channel
    assert len(standin.attempts_to("chat.postMessage")) >= 6
    # Three posts, and one DM to the author naming all three channels (not one per channel).
    dms = [c for c in standin.calls_to("chat.postMessage") if not c.args["channel"].startswith("C")]
    assert len(standin.calls_to("chat.postMessage")) == 3 + 1
    assert len(dms) == 1 and all(f"<#{c}>" in dms[0].args["text"] for c in ("C1", "C2", "C3"))


def test_many_channels_due_together_go_out_concurrently(db: Database, standin: SlackStandin) -> None:
    channels = ("C1", "C2", "C3", "C4")
    for channel in channels:
        setup_channel(db, channel)
    standin.delay("chat.postMessage", 1.5)
    scheduler(standin, db).sweep(schedules(db), now=MONDAY_9 + timedelta(seconds=5))
    times = sorted(posts_to(standin, c)[0].received_at for c in channels)
    # One after another would spread the four posts over 4.5 s or more.
    assert times[-1] - times[0] < 1.0


def test_server_errors_that_persist_are_retried_by_the_next_sweep_without_doubling(
    db: Database, standin: SlackStandin
) -> None:
    setup_channel(db, "C1")
    add_story(db)
    worker = scheduler(standin, db)
    standin.fail("chat.postMessage", status=500, times=None)
    assert list(worker.sweep(schedules(db), now=MONDAY_9 + timedelta(seconds=5)).values()) == ["retry"]
    standin.reset_faults()
    worker.sweep(schedules(db), now=MONDAY_9 + timedelta(minutes=1))
    worker.sweep(schedules(db), now=MONDAY_9 + timedelta(minutes=2))
    assert len(posts_to(standin, "C1")) == 1 and claims(db)[0].status == "posted"


def test_not_in_channel_is_reported_to_managers_once_and_not_retried(
    db: Database, standin: SlackStandin
) -> None:
    setup_channel(db, "C9")
    add_story(db)
    standin.error("chat.postMessage", "not_in_channel", channel="C9")
    worker = scheduler(standin, db)
    worker.sweep(schedules(db), now=MONDAY_9 + timedelta(seconds=5))
    worker.sweep(schedules(db), now=MONDAY_9 + timedelta(minutes=5))
    worker.sweep(schedules(db), now=MONDAY_9 + timedelta(days=7, seconds=5))
    attempts = [c for c in standin.attempts_to("chat.postMessage") if c.args.get("channel") == "C9"]
    assert len(attempts) == 2  # one per weekly slot, no retry loop
    dms = [c for c in standin.calls_to("chat.postMessage") if c.args.get("channel") == "UBOSS"]
    assert len(dms) == 1 and "/invite @Impact" in dms[0].args["text"]
    assert [c.status for c in claims(db)] == ["failed", "failed"]


def test_story_post_escapes_user_text_and_tells_author_and_colleagues(
    db: Database, standin: SlackStandin
) -> None:
    setup_channel(db, "C1")
    add_story(
        db,
        customer="Acme <!here>",
        quote="<!channel> thanks <@U999> <!subteam^S1> <http://evil.example|click> & more",
        impact="<!channel> saved a week",
        credited=("U0CRED",),
    )
    scheduler(standin, db).sweep(schedules(db), now=MONDAY_9 + timedelta(seconds=5))
    [post] = posts_to(standin, "C1")
    text = json.dumps(post.json_arg("blocks")) + post.args["text"]
    for live in LIVE:
        assert live not in text
    assert "&lt;!channel&gt;" in text and "<@U0AUTHOR>" in text and "<@U0CRED>" in text
    dms = {
        c.args["channel"]: c.args["text"]
        for c in standin.calls_to("chat.postMessage")
        if c.args["channel"] != "C1"
    }
    assert set(dms) == {"U0AUTHOR", "U0CRED"}
    assert all("https://" in text and "<#C1>" in text for text in dms.values())
    assert "<!here>" not in json.dumps(dms)


def test_no_story_posts_an_invitation_not_an_empty_story(db: Database, standin: SlackStandin) -> None:
    setup_channel(db, "C1")
    add_story(db, kind="complaint")
    scheduler(standin, db).sweep(schedules(db), now=MONDAY_9 + timedelta(seconds=5))
    [post] = posts_to(standin, "C1")
    assert "/impact" in json.dumps(post.json_arg("blocks"))
    assert "complaint" not in json.dumps(post.json_arg("blocks")).lower()


def test_standup_prompts_never_repeat_back_to_back(db: Database, standin: SlackStandin) -> None:
    setup_channel(db, "C1", kind="prompt", days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    add_story(db, quote="Voice of a happy customer")
    worker = scheduler(standin, db)
    for day in range(10):
        worker.sweep(schedules(db), now=MONDAY_9 + timedelta(days=day, seconds=5))
    prompts = [json.dumps(c.json_arg("blocks")) for c in posts_to(standin, "C1")]
    assert len(prompts) == 10
    texts = [c.args["text"] for c in posts_to(standin, "C1")]
    assert all(a != b for a, b in zip(texts, texts[1:], strict=False))
    assert "Voice of a happy customer" in prompts[0]


def test_grace_setting_is_honoured(db: Database, standin: SlackStandin) -> None:
    setup_channel(db, "C1")
    worker = scheduler(standin, db, grace_hours=0.5)
    assert list(worker.sweep(schedules(db), now=MONDAY_9 + timedelta(hours=1)).values()) == ["skipped"]
    # Half an hour late with a half-hour grace: recorded as skipped, nothing posted.
    assert posts_to(standin, "C1") == [] and [c.status for c in claims(db)] == ["skipped"]
