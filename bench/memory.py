"""Memory under a realistic mix: RSS of the bot process after 1k and after 10k requests.

Starts the Slack stand-in (bench.standin_server) and the bot (`python -m bot run`, HTTP mode,
a fresh database) and sends signed requests, 20 at a time, in a fixed mix of every 10:
4 quick logs (`/impact Customer: quote`), 2 `/impact list`, 2 `/impact search WORD` and
2 `app_home_opened` events (one in ten of those by a manager, whose Home shows more), from 25
users. At every 1,000 requests it waits until the bot has finished the work it does after the
acks (every views.publish and response_url post arrived; a quick log stored in time is
confirmed in its ack, the others by a response_url post), then reads VmRSS and VmHWM from
/proc/<pid>/status. Prints the growth from 1k to 10k and its ratio to the goal of issue 12
(<= 10 MB); asserts nothing.

    .venv/bin/python -m bench.memory [--requests 10000] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import time

from bench.harness import StandinProcess, database, machine, memory_mb, run_load, start_bot, workdir
from tests.signing import command_body, event_body

GOAL_GROWTH_MB = 10.0
CHECKPOINT = 1000
USERS = [f"U0USER{i:03d}" for i in range(25)]
MANAGER = "UBOSS"
WORDS = ["export", "quarter", "Acme", "onboarding", "invoice", "faster", "support", "week"]
# One block of the mix, by request number modulo 10.
MIX = ("quick", "list", "quick", "search", "home", "quick", "list", "search", "quick", "home")


class Mix:
    """The i-th request of the mix, as a body ready to sign."""

    def __init__(self, standin: StandinProcess, mix: tuple[str, ...] = MIX) -> None:
        self.standin = standin
        self.mix = mix
        self.sent = 0
        self.confirmed_in_ack = 0  # quick logs whose ack carried the confirmation

    def kind(self, n: int) -> str:
        return self.mix[n % len(self.mix)]

    def body(self, i: int) -> str:
        n = self.sent + i
        kind = self.kind(n)
        user = USERS[(n * 7) % len(USERS)]
        url = self.standin.response_url(f"m{n}")
        if kind == "quick":
            word = WORDS[n % len(WORDS)]
            text = f"Acme {n % 211}: The {word} saved us a week this quarter, thank you ({n})"
            return command_body(text=text, user_id=user, response_url=url, trigger_id=f"t{n}")
        if kind == "list":
            return command_body(text="list", user_id=user, response_url=url, trigger_id=f"t{n}")
        if kind == "search":
            text = f"search {WORDS[(n // 10) % len(WORDS)]}"
            return command_body(text=text, user_id=user, response_url=url, trigger_id=f"t{n}")
        home_user = MANAGER if (n // 10) % 10 == 0 else user
        event = {
            "type": "app_home_opened",
            "user": home_user,
            "channel": f"D{home_user}",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        return event_body(event, event_id=f"Ev{n:07d}")

    def owed(self, count: int) -> dict[str, int]:
        """Stand-in calls the first `count` requests lead to: a response_url post (list, search,
        a quick log not confirmed in its ack) or a views.publish (Home)."""
        kinds = [self.kind(n) for n in range(count)]
        homes = kinds.count("home")
        return {"response_url": count - homes - self.confirmed_in_ack, "views.publish": homes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests in all (a multiple of 1000)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--only", choices=sorted(set(MIX)), help="send only this kind of request (to find what grows)"
    )
    opts = parser.parse_args(argv)

    rows: list[tuple[int, float, float, float, float]] = []
    with workdir("impact-mem-") as tmp, database(opts.db, tmp) as db_url:
        standin = StandinProcess(tmp, keep_alive=True)
        bot = None
        try:
            bot, port = start_bot(
                tmp, standin.base_url, db_url, IMPACT_SWEEP_SECONDS="3600", IMPACT_MANAGERS=MANAGER
            )
            start_mem = memory_mb(bot.pid)
            mix = Mix(standin, (opts.only,) if opts.only else MIX)
            started = time.perf_counter()
            while mix.sent < opts.requests:
                batch = min(CHECKPOINT, opts.requests - mix.sent)
                load = run_load(port, mix.body, batch, opts.concurrency, marker=b'"blocks"')
                mix.sent += batch
                mix.confirmed_in_ack += load.marked
                standin.wait_counts(mix.owed(mix.sent), timeout=300)
                mem = memory_mb(bot.pid)
                rate = batch / load.elapsed
                rows.append((mix.sent, mem["VmRSS"], mem["VmHWM"], rate, load.percentile(99) * 1000))
            elapsed = time.perf_counter() - started
        finally:
            if bot is not None:
                bot.stop()
            standin.stop()

    print("memory: RSS of `python -m bot run` (HTTP mode) under a mix of signed requests,")
    what = f"only {opts.only}" if opts.only else "per 10: 4 quick logs, 2 list, 2 search, 2 app_home_opened"
    print(f"{opts.concurrency} concurrent; {what};")
    print(f"database {opts.db}; {machine()}")
    print()
    print(f"after start: RSS {start_mem['VmRSS']:.1f} MB")
    print(f"{'requests':>9} {'RSS MB':>8} {'peak MB':>9} {'req/s':>7} {'p99 ms':>7}")
    for sent, rss, hwm, rate, p99 in rows:
        print(f"{sent:>9,} {rss:8.1f} {hwm:9.1f} {rate:7.0f} {p99:7.1f}")
    print(f"({opts.requests:,} requests in {elapsed:.0f} s)")
    by_count = {sent: rss for sent, rss, *_ in rows}
    if 1000 in by_count and opts.requests in by_count and opts.requests > 1000:
        growth = by_count[opts.requests] - by_count[1000]
        verdict = "met" if growth <= GOAL_GROWTH_MB else "NOT met"
        print()
        print(
            f"growth from 1k to {opts.requests // 1000}k requests = {growth:+.1f} MB   goal <= "
            f"{GOAL_GROWTH_MB:.0f} MB   {verdict}   ({growth / GOAL_GROWTH_MB:+.2f}x the goal)"
        )


if __name__ == "__main__":
    main()
