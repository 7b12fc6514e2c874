"""Selection: choosing the customer of the week with 10k, 100k and 1M stories in one workspace.

For each back end (a SQLite file, and a fresh database on the local PostgreSQL) and each size,
a child process seeds one workspace with SQLAlchemy Core bulk inserts: stories of every kind
over 5 years with tags and richness, a channel that posted weekly for those 5 years (with tags,
4 recent customers and reactions) and other channels that did the same. This process then
times `bot.posting.choose_for_channel`, the call behind every preview and every story slot,
exactly as the bot makes it (its own session, the channel's settings, the SQL ranking), and
reads its own RSS after each size. Prints the median per preview, time(1M)/time(10k) (goal
<= 3), the preview at the largest size (goal < 50 ms) and the RSS growth (goal: flat), each
with its ratio to the goal; asserts nothing.

Up to --check-up-to stories the seeding process also ranks every story with the pure reference
(bot.selection.choose_story, as the bot did before) and this process reports whether the SQL
choice is the same, for Shuffle 0 to 3.

    .venv/bin/python -m bench.selection [--sizes 10000 100000 1000000] [--repeats 15]
        [--backends sqlite postgresql] [--channels 20]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text

from bench.harness import database

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
YEARS = 5
WEEKS = 52 * YEARS
TAGS = [f"tag{i}" for i in range(40)]
KINDS = ["praise"] * 6 + ["referral"] * 2 + ["complaint", "idea"]  # 80 % are candidates
CHANNEL = "CBENCH"
CHANNEL_TAGS = ["tag3", "#Tag7"]
UNTAGGED = "COTHER001"  # one of the other channels: no tags set
NEW_TAG = "CNEWTAG"  # a channel whose tag no story carries yet
CHANNELS = (CHANNEL, UNTAGGED, NEW_TAG)
BATCH = 20_000
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_RATIO, GOAL_MS = 3.0, 50.0


def label(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


# --- seeding (in a child process, so this process's memory reflects only the choosing) ------


def story_rows(count: int, ws: int, rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    """`count` stories over YEARS years, oldest first, about eight per customer, in batches."""
    customers = max(50, count // 8)
    span = timedelta(days=365 * YEARS).total_seconds()
    offsets = sorted((rng.uniform(0, span) for _ in range(count)), reverse=True)
    quote = "They closed the quarter a week early with the new export, and told the board so."
    for start in range(0, count, BATCH):
        batch = []
        for offset in offsets[start : start + BATCH]:
            when = NOW - timedelta(seconds=offset)
            batch.append(
                {
                    "workspace_id": ws,
                    "customer": f"Customer {rng.randrange(customers)}",
                    "quote": quote,
                    "impact": "Renewed for three years" if rng.random() < 0.5 else "",
                    "contact": "Head of Operations" if rng.random() < 0.3 else "",
                    "credited": [f"U{rng.randrange(200):05d}"] if rng.random() < 0.3 else [],
                    "kind": rng.choice(KINDS),
                    "tags": rng.sample(TAGS, rng.randrange(4)),
                    "author": f"U{rng.randrange(200):05d}",
                    "created_at": when,
                    "updated_at": when,
                    "deleted_at": when if rng.random() < 0.02 else None,
                }
            )
        yield batch


def seed(url: str, count: int, channels: int, check: bool) -> tuple[float, list[int | None]]:
    """Seed one workspace; returns the seconds it took and, with `check`, the reference choices."""
    from storage.db import Database, make_engine
    from storage.models import ChannelRow, PostRow, ReactionRow, StoryRow, Workspace

    Database(url).migrate()
    engine = make_engine(url, deadlines=False)
    rng = random.Random(count)
    started = time.perf_counter()
    with engine.begin() as conn:
        ws = conn.execute(insert(Workspace).returning(Workspace.id), {"team_id": "TBENCH"}).scalar_one()
        conn.execute(insert(Workspace), [{"team_id": "TOTHER"}])
    for batch in story_rows(count, ws, rng):
        with engine.begin() as conn:
            conn.execute(insert(StoryRow), batch)
    with engine.begin() as conn:
        candidates = conn.scalars(
            select(StoryRow.id)
            .where(StoryRow.kind.in_(("praise", "referral")), StoryRow.deleted_at.is_(None))
            .order_by(StoryRow.id)
        ).all()
        # Every channel posted a story weekly for YEARS years; people reacted to most posts.
        posts, reactions = [], []
        for c in range(channels):
            channel = CHANNEL if c == 0 else f"COTHER{c:03d}"
            for week in range(WEEKS):
                ts = f"{1_600_000_000 + week * 604_800}.{c:06d}"
                posted = NOW - timedelta(weeks=week, hours=c)
                story = rng.choice(candidates)
                posts.append(
                    {
                        "workspace_id": ws,
                        "channel_id": channel,
                        "ts": ts,
                        "kind": "story",
                        "story_id": story,
                        "posted_at": posted,
                    }
                )
                for user in rng.sample(range(300), rng.randrange(13)):
                    reactions.append(
                        {
                            "workspace_id": ws,
                            "channel_id": channel,
                            "ts": ts,
                            "user_id": f"U{user:05d}",
                            "reaction": rng.choice(["heart", "tada", "+1"]),
                        }
                    )
        conn.execute(insert(PostRow), posts)
        conn.execute(insert(ReactionRow), reactions)
        conn.execute(
            insert(ChannelRow),
            [
                {"workspace_id": ws, "channel_id": CHANNEL, "tags": CHANNEL_TAGS, "skip_dates": []},
                {"workspace_id": ws, "channel_id": NEW_TAG, "tags": ["roadmap-2027"], "skip_dates": []},
            ],
        )
    if engine.dialect.name == "postgresql":
        # What autovacuum does to a table that grew: the planner's statistics and visibility map.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, reference_choices(url, ws) if check else []


def reference_choices(url: str, ws: int) -> list[int | None]:
    """What the bot chose before: every live candidate loaded and ranked by bot.selection.

    Shuffle 0 to 3 in each of CHANNELS, in that order.
    """
    from bot.selection import ChannelHistory, choose_story
    from storage import channels, posts, queries
    from storage.db import Database

    db = Database(url)
    chosen = []
    with db.session() as session:
        stories = queries.live_stories(session, ws, kinds=("praise", "referral"))
        appreciation = posts.appreciation(session, ws)
        for channel in CHANNELS:
            found = channels.channel_settings(session, ws, channel)
            history = ChannelHistory(
                featured_story_ids=posts.featured_story_ids(session, ws, channel),
                recent_customers=posts.recent_customers(session, ws, channel),
                tags=tuple(found.tags) if found else (),
            )
            for skip in range(4):
                chosen.append(choose_story(stories, history, NOW, appreciation=appreciation, skip=skip))
    db.dispose()
    return [s.id if s else None for s in chosen]


# --- databases ----------------------------------------------------------------------------


def postgres_missing() -> str | None:
    try:
        engine = create_engine(PG_ADMIN, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as e:  # noqa: BLE001 - any reason is reported and the back end skipped
        return str(e).splitlines()[0]


# --- measuring ----------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def median_ms(call: Callable[[], Any], repeats: int) -> float:
    call()  # warm-up: connections, statement caches, the pages it reads
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


@dataclass
class Row:
    size: int
    seed_s: float
    preview_ms: float  # the channel with tags, Shuffle 0: the goal's figure
    shuffle_ms: float  # the same channel, Shuffle 1 to 3
    untagged_ms: float  # a channel without tags
    new_tag_ms: float  # a channel whose tag no story carries
    query_ms: float  # `/impact story Customer 12`
    voice_ms: float  # the stand-up prompt's fresh voice
    pool: bool  # decided from the bounded pool (not a scan of every candidate)
    rss_mb: float
    same: str  # the SQL choices equal the reference's


def measure(url: str, size: int, seed_s: float, reference: list[int | None], repeats: int) -> Row:
    from bot.posting import choose_for_channel
    from storage import queries, selection
    from storage.db import Database

    db = Database(url)
    try:
        with db.session() as session:
            ws = queries.workspace_id(session, "TBENCH")
            pool = not selection.pick_candidate(session, ws, CHANNEL, NOW, tags=CHANNEL_TAGS).exact_scan

        def preview(channel: str, skip: int = 0, query: str = "") -> Callable[[], Any]:
            return lambda: choose_for_channel(db, ws, channel, NOW, query=query, skip=skip)

        def voice() -> None:
            with db.session() as session:
                selection.freshest_story(session, ws, NOW, timedelta(days=30))

        few = max(3, repeats // 3)
        row = Row(
            size=size,
            seed_s=seed_s,
            preview_ms=median_ms(preview(CHANNEL), repeats),
            shuffle_ms=statistics.median(median_ms(preview(CHANNEL, n), few) for n in (1, 2, 3)),
            untagged_ms=median_ms(preview(UNTAGGED), few),
            new_tag_ms=median_ms(preview(NEW_TAG), few),
            # A customer's stories (and those of Customer 120-129, 1200-...): every candidate is read.
            query_ms=median_ms(preview(CHANNEL, query="Customer 12"), 3),
            voice_ms=median_ms(voice, repeats),
            pool=pool,
            rss_mb=0.0,
            same="-",
        )
        if reference:
            got = [preview(channel, n)().story for channel in CHANNELS for n in range(4)]
            row.same = "yes" if [s.id if s else None for s in got] == reference else "NO"
    finally:
        db.dispose()
    row.rss_mb = rss_mb()
    return row


def run_backend(backend: str, opts: argparse.Namespace, workdir: str) -> list[Row]:
    rows: list[Row] = []
    print(f"\n{backend}")
    print(
        f"{'stories':>9} {'seed s':>7} {'preview ms':>11} {'shuffle ms':>11} {'untagged':>9} "
        f"{'new tag':>8} {'query ms':>9} {'voice ms':>9} {'by':>5} {'RSS MB':>7} {'= ref':>6}"
    )
    seeder = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    try:
        for size in opts.sizes:
            with database("postgres" if backend == "postgresql" else "sqlite", Path(workdir)) as url:
                check = size <= opts.check_up_to
                seed_s, reference = seeder.submit(seed, url, size, opts.channels, check).result()
                row = measure(url, size, seed_s, reference, opts.repeats)
                if backend == "sqlite":
                    os.remove(url.removeprefix("sqlite:///"))
            rows.append(row)
            print(
                f"{label(size):>9} {row.seed_s:>7.1f} {row.preview_ms:>11.2f} {row.shuffle_ms:>11.2f} "
                f"{row.untagged_ms:>9.2f} {row.new_tag_ms:>8.2f} {row.query_ms:>9.1f} {row.voice_ms:>9.2f} "
                f"{'pool' if row.pool else 'scan':>5} {row.rss_mb:>7.1f} {row.same:>6}",
                flush=True,
            )
    finally:
        seeder.shutdown()
    return rows


def summary(backend: str, rows: list[Row]) -> None:
    first, last = rows[0], rows[-1]
    ratio = last.preview_ms / first.preview_ms
    print(
        f"{backend}: time({label(last.size)})/time({label(first.size)}) = {ratio:.2f}x "
        f"(goal <= {GOAL_RATIO:.0f}x: {ratio / GOAL_RATIO:.2f} of it); "
        f"preview at {label(last.size)} = {last.preview_ms:.2f} ms "
        f"(goal < {GOAL_MS:.0f} ms: {last.preview_ms / GOAL_MS:.2f} of it); "
        f"RSS {first.rss_mb:.1f} -> {last.rss_mb:.1f} MB ({last.rss_mb - first.rss_mb:+.1f} MB)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=15, help="timed previews per size; median kept")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--channels", type=int, default=20, help="channels posting weekly for 5 years")
    parser.add_argument("--check-up-to", type=int, default=100_000, help="compare with the reference")
    opts = parser.parse_args(argv)

    print(
        f"choose_for_channel, median of {opts.repeats} previews; one workspace, stories over {YEARS} years,"
    )
    print(f"80 % candidates; {opts.channels} channels with a story post weekly for {YEARS} years and")
    print(f"0-12 reactions each; the previewed channel has tags {CHANNEL_TAGS} and 4 recent customers.")
    print("shuffle = Shuffle 1-3 there; untagged = a channel without tags; new tag = a channel whose")
    print("tag no story carries; query = `story Customer 12` (reads every candidate; not a goal);")
    print("voice = the stand-up prompt's fresh customer voice; by = pool or scan (see storage/selection.py);")
    print("= ref = the same stories as bot.selection.choose_story, Shuffle 0-3 in all three channels.")
    results: dict[str, list[Row]] = {}
    with tempfile.TemporaryDirectory(prefix="impact-selection-") as workdir:
        for backend in opts.backends:
            missing = postgres_missing() if backend == "postgresql" else None
            if missing:
                print(f"\n{backend}: skipped, {missing}")
                continue
            results[backend] = run_backend(backend, opts, workdir)
    print()
    for backend, rows in results.items():
        summary(backend, rows)


if __name__ == "__main__":
    main()
