"""Acknowledgement under load: signed `/impact` quick logs to the bot and to a bare Bolt app.

Starts the Slack stand-in (bench.standin_server), the bot (`python -m bot run`, HTTP mode) and
a bare Bolt app whose /impact listener only acks (bench.bare_app), both served by waitress with
8 threads, each in its own process. After a warm-up, each round sends the same signed
`/impact Customer: quote` quick logs, 20 at a time on keep-alive connections, first to one
server then to the other, and reports ack latency (p50, p99), throughput, and the CPU time of the
server process per request (/proc/<pid>/stat utime+stime, read before a round and after the
bot has finished its work: every quick log stored, and confirmed in its ack or, when the ack
went out empty at its deadline, by a response_url post that has arrived).
Then, unless --no-profile, one more round to the bot under py-spy shows where its CPU goes.
Prints the medians and their ratios to the goals of issue 12; asserts nothing.

    .venv/bin/python -m bench.ack_load [--requests 2000] [--rounds 3] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import pyspy
from bench.harness import (
    LoadResult,
    Process,
    StandinProcess,
    clean_env,
    cpu_seconds,
    database,
    free_port,
    machine,
    median,
    run_load,
    start_bot,
    workdir,
)
from tests.signing import command_body

GOAL_P99_RATIO = 1.5  # bot p99 <= 1.5x the bare app's
GOAL_THROUGHPUT_RATIO = 0.6  # bot throughput >= 0.6x the bare app's
GOAL_CPU_MS = 2.5  # CPU per quick log


@dataclass
class Server:
    name: str
    proc: Process
    port: int
    stores: str | None  # the database URL whose `stories` the bot fills; None for the bare app


@dataclass
class Measured:
    server: str
    load: LoadResult
    cpu_ms: float  # CPU milliseconds per request, the work after the ack included
    late: int = 0  # confirmations that came through response_url, after an empty ack

    def row(self, label: str) -> str:
        p50, p99 = self.load.percentile(50) * 1000, self.load.percentile(99) * 1000
        bad = sum(n for s, n in self.load.statuses.items() if s != 200)
        tail = f"  ({bad} not 200: {dict(self.load.statuses)})" if bad else ""
        answered = f"{self.load.marked:>7} {self.late:>5}" if self.server == "bot" else f"{'-':>7} {'-':>5}"
        return (
            f"{label:>6} {self.server:>5} {p50:8.1f} {p99:8.1f} {self.load.throughput:8.0f}"
            f" {self.cpu_ms:9.2f} {answered}{tail}"
        )


class QuickLogs:
    """Signed-ready `/impact Customer: quote` bodies, numbered so each request is distinct."""

    def __init__(self, standin: StandinProcess) -> None:
        self.standin = standin
        self.sent = 0

    def body(self, i: int) -> str:
        n = self.sent + i
        return command_body(
            text=f"Acme {n % 97}: They closed the quarter a week early with the new export ({n})",
            user_id=f"U0USER{n % 25:03d}",
            channel_id="C0BENCH",
            response_url=self.standin.response_url(f"r{n}"),
            trigger_id=f"trig-{n}",
        )


def stored_stories(db_url: str) -> int:
    """How many stories the bot has stored, read as an operator would (SQLAlchemy Core)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM stories")).scalar() or 0)
    finally:
        engine.dispose()


def measure(
    server: Server, logs: QuickLogs, standin: StandinProcess, count: int, concurrency: int
) -> Measured:
    """One round against one server; CPU is read once every quick log is stored and confirmed.

    The bot confirms a quick log in its ack (the body carries the confirmation's blocks) when
    the story is stored in time, else with an empty ack and a response_url post after it."""
    before_posts = standin.counts().get("response_url", 0)
    before_stored = stored_stories(server.stores) if server.stores else 0
    cpu0 = cpu_seconds(server.proc.pid)
    load = run_load(server.port, logs.body, count, concurrency, marker=b'"blocks"')
    logs.sent += count
    late = 0
    if server.stores:
        late = count - load.marked
        standin.wait_counts({"response_url": before_posts + late})
        stored = stored_stories(server.stores) - before_stored
        if stored != count:
            raise SystemExit(f"the bot stored {stored} of {count} quick logs")
    time.sleep(0.2)  # a listener may still be returning
    cpu_ms = (cpu_seconds(server.proc.pid) - cpu0) * 1000 / count
    return Measured(server.name, load, cpu_ms, late)


def profile(
    bot: Server, logs: QuickLogs, standin: StandinProcess, count: int, concurrency: int, out: Path
) -> list[str]:
    try:
        recording = pyspy.Recording(bot.proc.pid, out)
    except FileNotFoundError:
        return ["py-spy is not installed: `.venv/bin/pip install py-spy`, then run again."]
    time.sleep(1.0)  # py-spy attaches
    result = measure(bot, logs, standin, count, concurrency)
    message = recording.stop()
    if not out.exists():
        return [f"py-spy could not record the bot: {message.strip()[-500:]}"]
    head = [
        f"profile: one more round of {count} quick logs to the bot under py-spy"
        f" ({pyspy.RATE} Hz): p99 {result.load.percentile(99) * 1000:.1f} ms,"
        f" {result.load.throughput:.0f} req/s, {result.cpu_ms:.2f} ms CPU per quick log",
        f"raw stacks: {out}",
        "",
    ]
    return head + pyspy.summarise(out, result.cpu_ms)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="quick logs per server per round")
    parser.add_argument("--warmup", type=int, default=300, help="untimed quick logs to each server first")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy round")
    parser.add_argument(
        "--profile-out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "impact-ack_load.pyspy.txt",
        help="where py-spy writes the raw stacks",
    )
    opts = parser.parse_args(argv)

    with workdir("impact-ack-") as tmp, database(opts.db, tmp) as db_url:
        standin = StandinProcess(tmp, keep_alive=True)
        servers: list[Server] = []
        try:
            bot, bot_port = start_bot(
                tmp, standin.base_url, db_url, IMPACT_SWEEP_SECONDS="3600", IMPACT_MANAGERS="UBOSS"
            )
            servers.append(Server("bot", bot, bot_port, stores=db_url))
            port = free_port()
            argv_bare = [
                sys.executable,
                "-m",
                "bench.bare_app",
                "--port",
                str(port),
                "--api-url",
                standin.base_url,
            ]
            bare = Process("bare", argv_bare, clean_env(), tmp)
            bare.wait_http(f"http://127.0.0.1:{port}/healthz")
            servers.append(Server("bare", bare, port, stores=None))
            logs = QuickLogs(standin)
            for server in servers:
                measure(server, logs, standin, opts.warmup, opts.concurrency)
            rounds: list[dict[str, Measured]] = []
            for r in range(opts.rounds):
                order = servers if r % 2 else servers[::-1]  # alternate who goes first
                rounds.append(
                    {s.name: measure(s, logs, standin, opts.requests, opts.concurrency) for s in order}
                )
            profile_lines: list[str] = []
            if not opts.no_profile:
                profile_lines = profile(
                    servers[0], logs, standin, opts.requests, opts.concurrency, opts.profile_out
                )
        finally:
            for server in servers:
                server.proc.stop()
            standin.stop()

    report(opts, rounds, profile_lines)


def report(opts: argparse.Namespace, rounds: list[dict[str, Measured]], profile_lines: list[str]) -> None:
    print(f"ack load: signed `/impact Customer: quote` quick logs, {opts.concurrency} concurrent,")
    print(f"{opts.requests} per server per round after {opts.warmup} warm-up, {opts.rounds} rounds;")
    print(f"database {opts.db}; bot = `python -m bot run` (HTTP mode), bare = Bolt app that only acks;")
    print(f"both on waitress with 8 threads; {machine()}")
    print()
    heads = f"{'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'CPU ms/req':>9} {'in ack':>7} {'late':>5}"
    print(f"{'round':>6} {'':>5} {heads}")
    for i, rnd in enumerate(rounds, 1):
        for name in ("bare", "bot"):
            print(rnd[name].row(str(i)))

    def med(name: str, what: str) -> float:
        values = []
        for rnd in rounds:
            m = rnd[name]
            values.append(
                {
                    "p50": m.load.percentile(50) * 1000,
                    "p99": m.load.percentile(99) * 1000,
                    "rps": m.load.throughput,
                    "cpu": m.cpu_ms,
                }[what]
            )
        return median(values)

    print()
    for name in ("bare", "bot"):
        print(
            f"{'median':>6} {name:>5} {med(name, 'p50'):8.1f} {med(name, 'p99'):8.1f}"
            f" {med(name, 'rps'):8.0f} {med(name, 'cpu'):9.2f}"
        )
    p99_ratio = med("bot", "p99") / med("bare", "p99")
    rps_ratio = med("bot", "rps") / med("bare", "rps")
    cpu = med("bot", "cpu")
    print()
    print("goals (issue 12), on the medians:")
    ok = _met(p99_ratio <= GOAL_P99_RATIO)
    print(f"  p99 bot / bare         = {p99_ratio:5.2f}x   goal <= {GOAL_P99_RATIO}x   {ok}")
    print(
        f"  throughput bot / bare  = {rps_ratio:5.2f}x   goal >= {GOAL_THROUGHPUT_RATIO}x   "
        f"{_met(rps_ratio >= GOAL_THROUGHPUT_RATIO)}"
    )
    print(
        f"  CPU per quick log      = {cpu:5.2f} ms  goal <= {GOAL_CPU_MS} ms  {_met(cpu <= GOAL_CPU_MS)}"
        f"   ({cpu / GOAL_CPU_MS:.2f}x the goal; bare app {med('bare', 'cpu'):.2f} ms)"
    )
    if profile_lines:
        print()
        print("\n".join(profile_lines))


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
