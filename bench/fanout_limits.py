"""Fan-out behind Slack's rate limits: one slot due in N channels of one workspace.

Seeds (SQLAlchemy Core on the tables) a workspace, a few praise stories and N channels, each
with a story schedule for the current minute, created an hour before it. Then starts the bot
(`python -m bot run`, HTTP mode, a short IMPACT_SWEEP_SECONDS) against the Slack stand-in in
rate-limit mode: 1 message per second per channel (DM channels included) and 600 per minute per
workspace with a burst of 20, answering HTTP 429 with Retry-After. Each answer also takes
--latency seconds, as Slack's do. The bot's first sweep finds the slot due in every channel.

Measures, from the first channel post the stand-in sees:
- the time until every channel has its post, against the floor the limits allow,
  (N - burst) / (600 / 60) seconds (98 s for 1,000 channels), and their ratio;
- channel posts lost (none in a channel) or doubled (more than one);
- the direct messages owed (one per featured person per slot: authors and credited
  colleagues of the stories that went out) against those delivered, and those given up;
- 429s, retries of a refused message sooner than its Retry-After, and calls made while a
  workspace-wide Retry-After was pending.
Prints the figures and the ratio to the goal of issue 12 (<= 1.15x the floor, 0 lost, 0 doubled,
every owed DM delivered once, no early retry); asserts nothing.

    .venv/bin/python -m bench.fanout_limits [--channels 1000] [--credited 0] [--db sqlite|postgres]
                                            [--processes 1]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select

from bench.harness import TEAM, Process, database, machine, migrate, start_bot, workdir
from storage.models import Base
from tests.slack_standin import Call, SlackStandin

GOAL_RATIO = 1.15
PER_MINUTE, BURST, PER_CHANNEL = 600, 20, 1.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNEL_PREFIX = "C0FAN"
METADATA_EVENT = "impact_slot"
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{1,30}$")


def floor_seconds(posts: int) -> float:
    """The least time the workspace limit allows for `posts` messages, the burst spent first."""
    return max(0, posts - BURST) / (PER_MINUTE / 60)


# ---- seeding ------------------------------------------------------------------------------


def seed(db_url: str, channels: int, stories: int, credited: int, authors: bool = True) -> datetime:
    """A workspace, `stories` praise stories, `channels` channels with a story schedule due at
    the current minute (created an hour before it). Returns the slot time (UTC).

    Without `authors` the stories' author is no Slack user ID (as for an imported story), so
    the bot owes nobody a DM and only the channel posts are measured.
    """
    tables = Base.metadata.tables
    now = datetime.now(UTC)
    slot = now.replace(second=0, microsecond=0)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        added = conn.execute(
            insert(tables["workspaces"]).values(team_id=TEAM, enterprise_id="", created_at=now)
        )
        ws = added.inserted_primary_key[0] if added.inserted_primary_key else None
        conn.execute(
            insert(tables["stories"]),
            [
                {
                    "workspace_id": ws,
                    "customer": f"Customer {i}",
                    "quote": f"Your export saved our quarter ({i})",
                    "contact": "Head of finance",
                    "impact": "They closed the books a week early",
                    "kind": "praise",
                    "tags": [],
                    "credited": [f"U0CRED{i}X{j}" for j in range(credited)],
                    "consent": "internal",
                    "source": "",
                    "author": f"U0AUTHOR{i}" if authors else "imported",
                    "channel": "C0LOG",
                    "created_at": now - timedelta(days=i + 1),
                    "updated_at": now - timedelta(days=i + 1),
                }
                for i in range(stories)
            ],
        )
        conn.execute(
            insert(tables["channels"]),
            [
                {"workspace_id": ws, "channel_id": f"{CHANNEL_PREFIX}{i:05d}", "tags": [], "skip_dates": []}
                for i in range(channels)
            ],
        )
        channel_rows = tables["channels"]
        ids = conn.execute(select(channel_rows.c.id).where(channel_rows.c.workspace_id == ws)).scalars().all()
        conn.execute(
            insert(tables["schedules"]),
            [
                {
                    "channel_row_id": row_id,
                    "kind": "story",
                    "weekdays": WEEKDAYS[slot.weekday()],
                    "time": slot.strftime("%H:%M"),
                    "timezone": "UTC",
                    "created_by": "UBOSS",
                    "created_at": slot - timedelta(hours=1),
                }
                for row_id in ids
            ],
        )
    engine.dispose()
    return slot


def claim_statuses(db_url: str) -> Counter[str]:
    claims = Base.metadata.tables["slot_claims"]
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(claims.c.status, func.count()).group_by(claims.c.status)).all()
    finally:
        engine.dispose()
    return Counter({status: n for status, n in rows})


def people_of(db_url: str, story_ids: set[int]) -> set[str]:
    """Authors and credited colleagues of these stories: who is owed a DM."""
    stories = Base.metadata.tables["stories"]
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(stories.c.author, stories.c.credited).where(stories.c.id.in_(story_ids))
            ).all()
    finally:
        engine.dispose()
    people: set[str] = set()
    for author, credited in rows:
        people.add(author)
        people.update(credited or [])
    return {p for p in people if SLACK_USER.match(p)}


# ---- reading the stand-in's record ----------------------------------------------------------


def is_channel_post(call: Call) -> bool:
    return call.method == "chat.postMessage" and str(call.args.get("channel", "")).startswith(CHANNEL_PREFIX)


def dm_recipient(call: Call) -> str | None:
    """The user a chat.postMessage is a direct message to (a user ID, or D + user ID), else None."""
    if call.method != "chat.postMessage":
        return None
    channel = str(call.args.get("channel", ""))
    if channel[:1] in ("U", "W"):
        return channel
    if channel.startswith("DU") or channel.startswith("DW"):
        return channel[1:]
    return None


def message_key(call: Call) -> tuple[str, str, str]:
    """What makes two attempts the same message: channel, text and metadata."""
    return (
        str(call.args.get("channel", "")),
        str(call.args.get("text", "")),
        str(call.args.get("metadata", "")),
    )


def story_id_of(call: Call) -> int | None:
    meta = call.json_arg("metadata") or {}
    if not isinstance(meta, dict) or meta.get("event_type") != METADATA_EVENT:
        return None
    story_id = (meta.get("event_payload") or {}).get("story_id")
    return story_id if isinstance(story_id, int) else None


@dataclass
class Findings:
    channels: int
    first_post: float  # time.time() of the first channel post attempt
    all_posted: float | None  # seconds from first_post until every channel had its post
    last_channel_post: float | None  # seconds from first_post to the last channel post
    last_message: float | None  # seconds from first_post to the last successful message of any kind
    lost: int
    doubled: int
    channel_posts: int
    dms_delivered: int
    dm_logical: int  # distinct DMs the bot tried to send (recipient and text)
    dm_given_up: int  # of those, never delivered (every attempt refused)
    owed: set[str]
    dm_by_person: Counter[str]
    limited: Counter[str]  # 429s by what was refused and which limit
    early_retries: int
    early_examples: list[str]
    during_backoff: int
    attempts: int


def analyse(standin: SlackStandin, channels: int, owed: set[str]) -> Findings:
    attempts = standin.attempts_to("chat.postMessage")
    attempts.sort(key=lambda c: c.received_at)
    posts = [c for c in attempts if is_channel_post(c)]
    first = posts[0].received_at if posts else time.time()
    ok_posts = [c for c in posts if c.ok]
    per_channel = Counter(str(c.args["channel"]) for c in ok_posts)
    first_ok: dict[str, float] = {}
    for c in ok_posts:
        first_ok.setdefault(str(c.args["channel"]), c.received_at)
    all_posted = max(first_ok.values()) - first if len(first_ok) == channels else None
    last_channel = max(first_ok.values()) - first if first_ok else None
    ok_any = [c.received_at for c in attempts if c.ok]
    dms = [c for c in attempts if dm_recipient(c) is not None]
    dm_ok = [c for c in dms if c.ok]
    by_logical: dict[tuple[str, str, str], list[Call]] = defaultdict(list)
    for c in dms:
        by_logical[message_key(c)].append(c)
    given_up = sum(1 for tries in by_logical.values() if not any(t.ok for t in tries))
    limited: Counter[str] = Counter()
    for c in attempts:
        if c.limited_by is not None:
            limited[f"{'DM' if dm_recipient(c) else 'channel post'} / {c.limited_by} limit"] += 1
    # A retry of a refused message sooner than its Retry-After (counted from when the refused
    # request arrived, which is lenient: the client learnt of the 429 --latency later).
    by_message: dict[tuple[str, str, str], list[Call]] = defaultdict(list)
    for c in attempts:
        by_message[message_key(c)].append(c)
    early, examples = 0, list[str]()
    for tries in by_message.values():
        for refused, following in zip(tries, tries[1:], strict=False):
            if (
                refused.retry_after is not None
                and following.received_at < refused.received_at + refused.retry_after
            ):
                early += 1
                if len(examples) < 3:
                    gap = following.received_at - refused.received_at
                    channel = refused.args.get("channel")
                    examples.append(f"{channel}: again after {gap:.2f} s, asked {refused.retry_after} s")
    # Calls made while a workspace-wide Retry-After was pending (uncoordinated workers).
    windows = [
        (c.received_at, c.received_at + (c.retry_after or 0)) for c in attempts if c.limited_by == "workspace"
    ]
    during = 0
    if windows:
        j = 0
        for c in attempts:
            while j < len(windows) and windows[j][1] <= c.received_at:
                j += 1
            if any(start < c.received_at < end for start, end in windows[j : j + 50]):
                during += 1
    return Findings(
        channels=channels,
        first_post=first,
        all_posted=all_posted,
        last_channel_post=last_channel,
        last_message=(max(ok_any) - first) if ok_any else None,
        lost=channels - len(per_channel),
        doubled=sum(n - 1 for n in per_channel.values() if n > 1),
        channel_posts=len(ok_posts),
        dms_delivered=len(dm_ok),
        dm_logical=len(by_logical),
        dm_given_up=given_up,
        owed=owed,
        dm_by_person=Counter(dm_recipient(c) or "" for c in dm_ok),
        limited=limited,
        early_retries=early,
        early_examples=examples,
        during_backoff=during,
        attempts=len(attempts),
    )


# ---- the run ------------------------------------------------------------------------------


def run(opts: argparse.Namespace) -> tuple[Findings, dict[str, Any]]:
    with workdir("impact-fanout-") as tmp, database(opts.db, tmp) as db_url, SlackStandin() as standin:
        migrate(tmp, db_url)
        slot = seed(db_url, opts.channels, opts.stories, opts.credited, authors=not opts.no_dms)
        standin.rate_limit(per_channel=PER_CHANNEL, per_minute=PER_MINUTE, burst=BURST)
        if opts.latency > 0:
            standin.delay("*", opts.latency)
        started = time.time()
        bots: list[Process] = []
        try:
            for i in range(opts.processes):
                bot, _ = start_bot(
                    tmp,
                    standin.base_url,
                    db_url,
                    name=f"bot{i + 1}",
                    IMPACT_SWEEP_SECONDS=str(opts.sweep),
                    IMPACT_MANAGERS="UBOSS",
                    LOG_LEVEL="INFO",
                )
                bots.append(bot)
            ready = time.time()
            end = watch(standin, db_url, opts, started)
            log_tail = "\n".join(bot.output() for bot in bots)
        finally:
            for bot in bots:
                bot.stop()
        posted_ids = {
            sid
            for c in standin.calls_to("chat.postMessage")
            if is_channel_post(c) and (sid := story_id_of(c))
        }
        owed = people_of(db_url, posted_ids) if posted_ids else set()
        findings = analyse(standin, opts.channels, owed)
        extra = {
            "slot": slot,
            "start_to_ready": ready - started,
            "start_to_first_post": findings.first_post - started,
            "ended": end,
            "claims": claim_statuses(db_url),
            "stories_featured": len(posted_ids),
            "log_warnings": sum(1 for line in log_tail.splitlines() if "WARNING" in line),
            "log_path": None,
        }
        if opts.keep_log:
            opts.keep_log.write_text(log_tail)
            extra["log_path"] = str(opts.keep_log)
        return findings, extra


def watch(standin: SlackStandin, db_url: str, opts: argparse.Namespace, started: float) -> str:
    """Wait until every channel has its post, every claim is finished and the bot has been quiet
    for --settle seconds (its DMs and retries done), or --timeout; returns why it stopped."""
    last_report = time.time()
    while True:
        time.sleep(0.5)
        now = time.time()
        attempts = standin.attempts_to("chat.postMessage")
        posted = len({c.args["channel"] for c in attempts if c.ok and is_channel_post(c)})
        last_attempt = max((c.received_at for c in attempts), default=started)
        if now - last_report >= 10:
            last_report = now
            dms = sum(1 for c in attempts if c.ok and dm_recipient(c))
            refused = sum(1 for c in attempts if c.status == 429)
            print(
                f"  {now - started:5.0f} s: {posted}/{opts.channels} channels posted,"
                f" {dms} DMs, {refused} 429s",
                file=sys.stderr,
                flush=True,
            )
        if now - started > opts.timeout:
            return f"timeout after {opts.timeout:.0f} s"
        if posted >= opts.channels and now - last_attempt >= opts.settle:
            claims = claim_statuses(db_url)
            if claims.get("claimed", 0) == 0:
                return f"settled: every channel posted, no claim open, no message for {opts.settle:.0f} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--channels", type=int, default=1000, help="channels with the slot due (100 for a quick run)"
    )
    parser.add_argument("--stories", type=int, default=5, help="praise stories in the workspace")
    parser.add_argument(
        "--credited", type=int, default=0, help="colleagues credited on each story (each owed a DM)"
    )
    parser.add_argument(
        "--no-dms",
        action="store_true",
        help="stories whose author is no Slack user and no credits: nobody is owed a DM",
    )
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds the stand-in takes to answer each call"
    )
    parser.add_argument("--sweep", type=int, default=5, help="IMPACT_SWEEP_SECONDS for the bot")
    parser.add_argument("--settle", type=float, default=15.0, help="quiet seconds that mean the bot is done")
    parser.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--processes", type=int, default=1, help="bot processes sharing the database (several need postgres)"
    )
    parser.add_argument("--keep-log", type=Path, default=None, help="write the bot's log here")
    opts = parser.parse_args(argv)
    if opts.no_dms:
        opts.credited = 0
    if opts.timeout is None:
        opts.timeout = 120 + 15 * floor_seconds(opts.channels)
    findings, extra = run(opts)
    report(opts, findings, extra)


def report(opts: argparse.Namespace, f: Findings, extra: dict[str, Any]) -> None:
    floor = floor_seconds(f.channels)
    print(f"fan-out behind rate limits: one slot ({extra['slot']:%a %H:%M} UTC) due in {f.channels} channels")
    print(
        f"of one workspace; stand-in enforces {PER_CHANNEL:g} msg/s per channel (DMs too) and"
        f" {PER_MINUTE}/min per workspace (burst {BURST}), 429 + Retry-After;"
    )
    print(
        f"every answer takes {opts.latency:g} s; {opts.stories} stories, {opts.credited} credited each"
        f"{', authors no Slack users (no DMs owed)' if opts.no_dms else ''};"
        f" IMPACT_SWEEP_SECONDS={opts.sweep}; database {opts.db}; {opts.processes} bot process(es);"
        f" {machine()}"
    )
    print(
        f"bot start to healthy {extra['start_to_ready']:.1f} s, bot start to first channel post"
        f" {extra['start_to_first_post']:.1f} s"
    )
    print(f"stopped: {extra['ended']}")
    print()
    done = (
        f"{f.all_posted:.1f} s"
        if f.all_posted is not None
        else f"not all ({f.channels - f.lost} of {f.channels})"
    )
    print(f"time until all {f.channels} channel posts are in   {done}  (from the first post)")
    print(
        f"floor the limits allow                      {floor:.1f} s"
        f"  ((N - {BURST}) / {PER_MINUTE // 60} per s)"
    )
    if f.all_posted is not None and floor > 0:
        ratio = f.all_posted / floor
        verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
        print(f"ratio                                       {ratio:.2f}x  goal <= {GOAL_RATIO}x  {verdict}")
    if f.last_message is not None:
        print(f"last message of the slot (DMs included)     {f.last_message:.1f} s")
    print()
    print(
        f"channel posts: {f.channel_posts} delivered, {f.lost} lost, {f.doubled} doubled"
        "   (goal 0 lost, 0 doubled)"
    )
    owed = len(f.owed)
    got = [p for p in f.owed if f.dm_by_person[p] > 0]
    once = [p for p in f.owed if f.dm_by_person[p] == 1]
    print(
        f"stories featured: {extra['stories_featured']}; DMs owed: {owed} (one per featured person per slot);"
        f" people who got one or more: {len(got)}, exactly one: {len(once)}"
    )
    print(
        f"DMs delivered: {f.dms_delivered} (most to one person: {max(f.dm_by_person.values(), default=0)});"
        f" DMs the bot tried: {f.dm_logical}, given up after 429s: {f.dm_given_up}"
    )
    print(f"chat.postMessage attempts: {f.attempts}; answered 429: {sum(f.limited.values())}")
    for what, n in sorted(f.limited.items()):
        print(f"  {n:6} {what}")
    print(f"retries sooner than Retry-After: {f.early_retries}   (goal 0)")
    for example in f.early_examples:
        print(f"  e.g. {example}")
    print(f"calls made while a workspace-wide Retry-After was pending: {f.during_backoff}")
    print(f"slot claims: {dict(extra['claims'])}; bot log lines with WARNING: {extra['log_warnings']}")
    if extra["log_path"]:
        print(f"bot log: {extra['log_path']}")


if __name__ == "__main__":
    main()
