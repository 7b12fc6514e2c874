"""Selection: how choose_story's cost grows with the number of stories a workspace has collected.

choose_story is pure (bot/selection.py), so this times it alone on synthetic, seeded stories with
a realistic channel history: years of weekly posts, recent customers, channel tags, reactions.
Prints the median time per call and the growth ratios; asserts nothing.

    .venv/bin/python -m bench.selection [--sizes 1000 10000 50000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from bot.selection import ChannelHistory, choose_story
from domain.story import Story

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
YEARS = 5  # the stories were collected over this many years
TAGS = [f"tag{i}" for i in range(40)]
KINDS = ["praise"] * 6 + ["referral"] * 2 + ["complaint", "idea"]  # 80 % are candidates


def make_stories(count: int, seed: int = 1) -> list[Story]:
    """`count` stories spread over YEARS years, about eight per customer, oldest first."""
    rng = random.Random(seed)
    customers = [f"Customer {i}" for i in range(max(50, count // 8))]
    span = timedelta(days=365 * YEARS).total_seconds()
    created = sorted(NOW - timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
    stories = []
    for i, when in enumerate(created, 1):
        rich = rng.random() < 0.5
        stories.append(
            Story(
                id=i,
                workspace_id=1,
                author=f"U{rng.randrange(200):05d}",
                customer=rng.choice(customers),
                quote="They said it saved them a week of work.",
                impact="Renewed for three years" if rich else "",
                contact="ops@example.com" if rng.random() < 0.3 else "",
                credited=(f"U{rng.randrange(200):05d}",) if rng.random() < 0.3 else (),
                kind=rng.choice(KINDS),
                tags=tuple(rng.sample(TAGS, rng.randrange(4))),
                created_at=when,
                updated_at=when,
            )
        )
    return stories


def make_history(stories: list[Story], seed: int = 2) -> tuple[ChannelHistory, dict[int, int]]:
    """A channel that has posted weekly for YEARS years, and reactions on its posts."""
    rng = random.Random(seed)
    candidates = [s for s in stories if s.kind in ("praise", "referral")]
    featured = rng.sample(candidates, min(len(candidates), 52 * YEARS))
    history = ChannelHistory(
        featured_story_ids=frozenset(s.id for s in featured),
        recent_customers=tuple(s.customer for s in featured[:4]),
        tags=("tag3", "#Tag7"),
    )
    # Reactions per story over every channel: the featured ones here and some elsewhere.
    reacted = featured + rng.sample(candidates, len(candidates) // 10)
    appreciation = {s.id: rng.randrange(1, 15) for s in reacted}
    return history, appreciation


def time_choice(count: int, repeats: int) -> tuple[float, int]:
    """Median seconds per choose_story call over `repeats`, and the chosen story's id."""
    stories = make_stories(count)
    history, appreciation = make_history(stories)
    chosen = choose_story(stories, history, NOW, appreciation=appreciation)  # warm-up
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        choose_story(stories, history, NOW, appreciation=appreciation)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), chosen.id if chosen else 0


def label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per size; median kept")
    opts = parser.parse_args(argv)

    print(f"choose_story, median of {opts.repeats} calls; stories over {YEARS} years, 80 % candidates,")
    print(f"channel with {52 * YEARS} featured stories, 4 recent customers, 2 tags, reactions on ~10 %")
    print()
    print(f"{'stories':>8} {'ms per call':>12} {'us per story':>13} {'chosen id':>10}")
    medians: list[float] = []
    for size in opts.sizes:
        median, chosen = time_choice(size, opts.repeats)
        medians.append(median)
        print(f"{size:>8} {median * 1000:>12.2f} {median / size * 1e6:>13.2f} {chosen:>10}")
    print()
    pairs = list(zip(opts.sizes, medians, strict=True))
    for (small, t_small), (big, t_big) in zip(pairs, pairs[1:], strict=False):
        growth = t_big / t_small
        print(f"ratio {label(big)}/{label(small)}: {growth:5.1f}x for {big / small:.0f}x the stories")


if __name__ == "__main__":
    main()
