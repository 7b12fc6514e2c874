"""Fan-out at Slack's rate: shared pacing, and one DM per featured person per slot, sent once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from bot.featured import dm_text
from bot.pacing import Pacer, bucket_key
from bot.scheduler import SlotScheduler, interleaved
from domain.schedule import ChannelSchedule, ScheduleSpec
from domain.story import Story
from storage import claims, outbox, pacing
from storage.db import Database
from storage.models import OwedDM, PostRow, StoryRow
from tests.slack_standin import SlackStandin
from tests.test_slots import MONDAY_9, add_story, posts_to, scheduler, schedules, setup_channel, sweep_racing

SOON = MONDAY_9 + timedelta(seconds=5)
AUTHOR, COLLEAGUE = "U0AUTHOR", "U0CRED"


def dms_to(standin: SlackStandin, user: str) -> list[Any]:
    return posts_to(standin, user)


def dm_attempts(standin: SlackStandin, user: str) -> list[Any]:
    return [c for c in standin.attempts_to("chat.postMessage") if c.args.get("channel") == user]


def owed(db: Database) -> list[OwedDM]:
    with db.session() as s:
        return list(s.scalars(select(OwedDM).order_by(OwedDM.id)))


def post_channels_only(worker: SlotScheduler, db: Database) -> None:
    """The slot's channel posts without the DMs: as if the process stopped right after them."""
    for schedule in schedules(db):
        assert worker.poster.run_slot(schedule, MONDAY_9, now=SOON) == "posted"


# ---- pacing -------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def test_processes_share_one_rate_burst_first(any_db: Database) -> None:
    clock = FakeTime()
    # Two processes (their own engines) pacing the same workspace: one message a second, burst 3.
    engines = [Database(any_db.url) for _ in range(2)]
    pacers = [Pacer(d, 60, 3, clock=lambda: clock.now, sleep=clock.sleep) for d in engines]
    waits = [pacers[i % 2].wait("xoxb-one") for i in range(6)]
    assert [round(w, 6) for w in waits] == [0, 0, 0, 1, 2, 3]
    # Another workspace has its own bucket.
    assert pacers[0].wait("xoxb-other") == 0
    # A 429 with Retry-After 10 holds every process's next message until it has passed.
    pacers[1].rate_limited("xoxb-one", 10)
    assert round(pacers[0].wait("xoxb-one"), 6) == 10
    # Time passing refills the burst.
    clock.now += 3_600
    assert pacers[1].wait("xoxb-one") == 0
    for d in engines:
        d.dispose()


def test_the_bucket_key_never_stores_the_token() -> None:
    key = bucket_key("xoxb-secret-token")
    assert "secret" not in key and key == bucket_key("xoxb-secret-token") != bucket_key("xoxb-other")


def test_a_429_holds_the_workspace_and_nothing_goes_sooner(db: Database, standin: SlackStandin) -> None:
    for channel in ("C1", "C2", "C3"):
        setup_channel(db, channel)
    add_story(db, author="not-a-user")  # no DM owed: only the channel posts
    standin.fail("chat.postMessage", status=429, times=1, retry_after=1)
    results = scheduler(standin, db).sweep(schedules(db), now=SOON)
    assert sorted(results.values()) == ["posted"] * 3
    limited = [a for a in standin.attempts_to("chat.postMessage") if a.status == 429]
    assert len(limited) == 1
    # The pacer heard of it: the shared bucket was held past Retry-After.
    assert pacing.next_free(db, bucket_key("xoxb-test")) >= limited[0].received_at + 1
    # The refused post is retried no sooner than Retry-After (and lands once).
    [retried] = posts_to(standin, limited[0].args["channel"])
    assert retried.received_at >= limited[0].received_at + 0.99


def test_workspaces_take_turns() -> None:
    def due(ws: int, n: int) -> list[Any]:
        spec = ScheduleSpec("story", ("mon",), "09:00", "UTC")
        return [
            (ChannelSchedule(ws * 100 + i, ws, f"T{ws}", f"C{ws}{i}", spec, MONDAY_9, (), None, ()), MONDAY_9)
            for i in range(n)
        ]

    order = [s.workspace_id for s, _ in interleaved(due(1, 50) + due(2, 1) + due(3, 2))]
    assert (
        order[:3] == [1, 2, 3] and order[3:5] == [1, 3] and sorted(order) == sorted([1] * 50 + [2] + [3] * 2)
    )


# ---- one DM per person per slot -----------------------------------------------------------


def test_one_dm_per_person_per_slot_after_every_channel_post(db: Database, standin: SlackStandin) -> None:
    channels = [f"C{i}" for i in range(1, 6)]
    for channel in channels:
        setup_channel(db, channel)
    add_story(db, author=AUTHOR, credited=[COLLEAGUE])
    worker = scheduler(standin, db)
    worker.sweep(schedules(db), now=SOON)
    worker.sweep(schedules(db), now=SOON + timedelta(minutes=1))
    assert all(len(posts_to(standin, c)) == 1 for c in channels)
    [to_author], [to_colleague] = dms_to(standin, AUTHOR), dms_to(standin, COLLEAGUE)
    for dm in (to_author, to_colleague):
        assert "5 channels" in dm.args["text"] and all(f"<#{c}>" in dm.args["text"] for c in channels)
    assert "Acme" in to_author.args["text"] and "made possible" in to_colleague.args["text"]
    last_channel_post = max(posts_to(standin, c)[0].received_at for c in channels)
    assert min(to_author.received_at, to_colleague.received_at) >= last_channel_post
    assert outbox.statuses(db, owed(db)[0].workspace_id) == {"sent": 2}
    with db.session() as s:  # recorded, so purge can redact them
        assert s.scalar(select(PostRow.id).where(PostRow.kind == "dm", PostRow.channel_id == AUTHOR)) is None
        assert len(list(s.scalars(select(PostRow).where(PostRow.kind == "dm")))) == 2


def test_racing_processes_send_each_dm_once(any_db: Database, standin: SlackStandin) -> None:
    channels = [f"C{i}" for i in range(1, 7)]
    for channel in channels:
        setup_channel(any_db, channel)
    add_story(any_db, author=AUTHOR, credited=[COLLEAGUE])
    sweep_racing(any_db, standin, 3, SOON)
    assert all(len(posts_to(standin, c)) == 1 for c in channels)
    assert len(dm_attempts(standin, AUTHOR)) == 1 and len(dm_attempts(standin, COLLEAGUE)) == 1
    assert all(f"<#{c}>" in dms_to(standin, AUTHOR)[0].args["text"] for c in channels)


def test_a_rate_limited_dm_waits_its_turn_and_goes_once(db: Database, standin: SlackStandin) -> None:
    setup_channel(db, "C1")
    add_story(db, author=AUTHOR)
    standin.error("chat.postMessage", "ratelimited", times=1, channel=AUTHOR)
    worker = scheduler(standin, db)
    worker.sweep(schedules(db), now=SOON)
    [row] = owed(db)
    assert row.status == "owed" and row.not_before > SOON  # back in line, not dropped
    assert dms_to(standin, AUTHOR) == []
    worker.sweep(schedules(db), now=SOON + timedelta(milliseconds=500))  # before Retry-After: waits
    assert dms_to(standin, AUTHOR) == []
    worker.sweep(schedules(db), now=SOON + timedelta(minutes=1))
    worker.sweep(schedules(db), now=SOON + timedelta(minutes=2))
    assert len(dms_to(standin, AUTHOR)) == 1 and owed(db)[0].status == "sent"


def test_owed_dms_survive_a_restart_and_go_once(any_db: Database, standin: SlackStandin) -> None:
    for channel in ("C1", "C2"):
        setup_channel(any_db, channel)
    add_story(any_db, author=AUTHOR)
    stopped = scheduler(standin, any_db)
    post_channels_only(stopped, any_db)
    assert dms_to(standin, AUTHOR) == [] and [r.status for r in owed(any_db)] == ["owed"]
    restarted = scheduler(standin, any_db)  # a new process on the same database
    restarted.sweep(schedules(any_db), now=SOON + timedelta(minutes=1))
    stopped.sweep(schedules(any_db), now=SOON + timedelta(minutes=2))
    [dm] = dms_to(standin, AUTHOR)
    assert "<#C1>" in dm.args["text"] and "<#C2>" in dm.args["text"]


def test_a_dm_whose_answer_was_lost_is_not_resent(db: Database, standin: SlackStandin) -> None:
    setup_channel(db, "C1")
    add_story(db, author=AUTHOR)
    worker = scheduler(standin, db)
    post_channels_only(worker, db)
    standin.drop("chat.postMessage", times=1, store=True)  # Slack took the DM, the answer is lost
    worker.sweep(schedules(db), now=SOON)
    worker.sweep(schedules(db), now=SOON + timedelta(minutes=5))
    assert len(dm_attempts(standin, AUTHOR)) == 1
    assert owed(db)[0].status == "uncertain"


def test_a_dm_left_sending_by_a_dead_process_is_never_resent(db: Database, standin: SlackStandin) -> None:
    setup_channel(db, "C1")
    add_story(db, author=AUTHOR)
    worker = scheduler(standin, db)
    post_channels_only(worker, db)
    assert outbox.take(db, owed(db)[0].id, "dead-host:1", SOON)  # then the process died
    worker.sweep(schedules(db), now=SOON + timedelta(minutes=1))
    assert owed(db)[0].status == "sending"  # within the lease: maybe still on its way
    worker.sweep(schedules(db), now=SOON + timedelta(hours=1))
    assert owed(db)[0].status == "uncertain" and dm_attempts(standin, AUTHOR) == []


def test_a_story_removed_before_its_dm_drops_the_dm(db: Database, standin: SlackStandin) -> None:
    setup_channel(db, "C1")
    add_story(db, author=AUTHOR)
    worker = scheduler(standin, db)
    post_channels_only(worker, db)
    with db.session() as s:
        s.execute(update(StoryRow).values(deleted_at=SOON))
    worker.sweep(schedules(db), now=SOON + timedelta(minutes=1))
    assert owed(db)[0].status == "dropped" and dm_attempts(standin, AUTHOR) == []


def test_a_slot_still_posting_elsewhere_holds_its_dms_back(db: Database, standin: SlackStandin) -> None:
    for channel in ("C1", "C2"):
        setup_channel(db, channel)
    add_story(db, author=AUTHOR)
    worker = scheduler(standin, db)
    [first, second] = schedules(db)
    assert worker.poster.run_slot(first, MONDAY_9, now=SOON) == "posted"
    # Another process holds the other channel's claim and has not posted yet.
    lease = timedelta(minutes=10)
    assert claims.claim_slot(
        db, second.workspace_id, second.channel_id, "story", MONDAY_9, "other:1", lease, SOON
    )
    assert worker.poster.featured.deliver(SOON + timedelta(seconds=30)) == {}
    assert dms_to(standin, AUTHOR) == []
    # The other process posts; the next sweep anywhere sends one DM naming both channels.
    other = scheduler(standin, db)
    assert other.poster.run_slot(second, MONDAY_9, now=SOON + timedelta(minutes=11)) in ("posted", "found")
    worker.sweep(schedules(db), now=SOON + timedelta(minutes=12))
    [dm] = dms_to(standin, AUTHOR)
    assert "<#C1>" in dm.args["text"] and "<#C2>" in dm.args["text"]


def test_dm_text_names_at_most_ten_channels_and_hides_anonymous_names() -> None:
    story = Story(
        id=1, workspace_id=1, customer="Acme <!channel>", quote="q", author=AUTHOR, consent="anonymous"
    )
    channels = [f"C{i}" for i in range(25)]
    to_author = dm_text(story, AUTHOR, "featured.dm", channels, "", "en")
    assert "25 channels" in to_author and to_author.count("<#") == 10 and "…" in to_author
    assert "<!channel>" not in to_author and "Acme" in to_author
    to_colleague = dm_text(story, COLLEAGUE, "credited.dm", channels, "", "de")
    assert "Acme" not in to_colleague and "25 Channels" in to_colleague
    one = dm_text(story, AUTHOR, "featured.dm", ["C1"], "https://x.slack.com/p1", "nl")
    assert "<#C1>" in one and "https://x.slack.com/p1" in one


def test_a_tick_during_a_long_sweep_returns_at_once_and_asks_for_one_more_round(
    db: Database, standin: SlackStandin
) -> None:
    worker = scheduler(standin, db)
    started, release = threading.Event(), threading.Event()
    rounds: list[int] = []

    def one_round() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            started.set()
            release.wait(10)

    worker._sync_once = one_round  # type: ignore[method-assign]
    long_sweep = threading.Thread(target=worker.sync)
    long_sweep.start()
    assert started.wait(10)
    worker.sync()  # the interval tick, or a cron job's wake-up: does not wait, does not run
    worker.sync()
    assert rounds == [1]
    release.set()
    long_sweep.join(10)
    assert rounds == [1, 1]  # one more round for both ticks, then done


def test_one_workspaces_thousand_channels_do_not_hold_another_workspaces_slot_up(
    make_app: Any, db: Database
) -> None:
    from tests.test_uninstall import OAUTH, install, schedule_story, sweep

    # One message every 0.1 s per workspace, no burst: T1's 20 channels take about 2 s.
    app = make_app(db, **OAUTH, posts_per_minute=600, post_burst=1)
    install(app, "T1")
    install(app, "T2")
    for i in range(20):
        schedule_story(db, "T1", f"C1{i:02d}")
    schedule_story(db, "T2", "C2")
    results = sweep(app, SOON)
    assert sorted(set(results.values())) == ["posted"] and len(results) == 21
    order = [
        c.args["channel"] for c in app.standin.calls_to("chat.postMessage") if c.args["channel"][0] == "C"
    ]
    assert len(order) == 21 and order.index("C2") <= 2  # T2 takes its turn, not the 21st place


def test_a_dm_slack_refuses_for_good_is_given_up_once(db: Database, standin: SlackStandin) -> None:
    setup_channel(db, "C1")
    add_story(db, author=AUTHOR)
    standin.error("chat.postMessage", "user_not_found", channel=AUTHOR)
    worker = scheduler(standin, db)
    worker.sweep(schedules(db), now=SOON)
    worker.sweep(schedules(db), now=SOON + timedelta(minutes=5))
    [row] = owed(db)
    assert (row.status, row.note) == ("failed", "user_not_found")
    assert len(dm_attempts(standin, AUTHOR)) == 1  # not retried every sweep
