"""What the process benchmarks share: processes, databases, signed requests, /proc readings.

The benchmarks drive the bot only through its public surfaces: `python -m bot` as a subprocess
configured by environment variables, signed HTTP requests to /slack/events, and the database
tables (seeded with SQLAlchemy Core). Nothing here imports the bot's own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.signing import signed_headers

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret-7f3a9c"
TOKEN = "xoxb-bench-1111-2222"
TEAM = "T111"  # the team the Slack stand-in's auth.test names
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- /proc ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used (/proc/<pid>/stat utime + stime)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the ")" closing the command name, utime and stime are the 12th and 13th fields.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of the process, in MB (10^6 bytes)."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024 / 1e6  # /proc says kB and means KiB
    return out


def machine() -> str:
    """A line naming the machine, for the tables in bench/README.md."""
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model or 'unknown CPU'}), Python {sys.version.split()[0]}"


# ---- processes ------------------------------------------------------------------------------


class Process:
    """A subprocess whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log = cwd / f"{name}.log"
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )
        self.pid = self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        """Wait until GET `url` answers 200; SystemExit with the log when the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited ({self.proc.returncode}):\n{self.output()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{self.name} did not answer {url} within {timeout:.0f} s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Slack, Impact or database settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPACT_", "DATABASE_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def bot_env(api_url: str, database_url: str, port: int, **extra: str) -> dict[str, str]:
    """What `python -m bot run` needs for HTTP mode against the stand-in."""
    settings = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    return clean_env(**{**settings, **extra})


def start_bot(
    tmp: Path, api_url: str, database_url: str, name: str = "bot", **extra: str
) -> tuple[Process, int]:
    """`python -m bot run` in HTTP mode (cwd is `tmp`, so no .env is read); returns it and its port."""
    port = free_port()
    env = bot_env(api_url, database_url, port, **extra)
    bot = Process(name, [sys.executable, "-m", "bot", "run"], env, tmp)
    bot.wait_http(f"http://127.0.0.1:{port}/healthz")
    return bot, port


def migrate(tmp: Path, database_url: str) -> None:
    """`python -m bot migrate`: the schema, through the command line."""
    env = clean_env(DATABASE_URL=database_url)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"], cwd=tmp, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"bot migrate failed: {done.stderr or done.stdout}")


# The stand-in with HTTP/1.1 keep-alive, as Slack's servers answer: http.server speaks HTTP/1.0
# (one connection per request) unless its handler class says otherwise.
KEEP_ALIVE_STANDIN = (
    "import sys, http.server; http.server.BaseHTTPRequestHandler.protocol_version = 'HTTP/1.1'; "
    "http.server.BaseHTTPRequestHandler.disable_nagle_algorithm = True; "
    "from bench.standin_server import main; main(sys.argv[1:])"
)


class StandinProcess(Process):
    """The Slack stand-in (bench.standin_server) in its own process, so its work is not timed.

    With `keep_alive` it answers HTTP/1.1 and keeps connections open, as Slack does, so a
    client that reuses connections (the bot's response_url posts) can.
    """

    def __init__(self, tmp: Path, *args: str, keep_alive: bool = False) -> None:
        port = free_port()
        module = ["-c", KEEP_ALIVE_STANDIN] if keep_alive else ["-m", "bench.standin_server"]
        argv = [sys.executable, *module, "--port", str(port), *args]
        super().__init__("standin", argv, clean_env(), tmp)
        self.base_url = f"http://127.0.0.1:{port}/api/"
        self.wait_http(self.base_url + "bench.counts")

    def response_url(self, name: str = "x") -> str:
        return self.base_url.replace("/api/", f"/respond/{name}")

    def counts(self) -> dict[str, int]:
        """Calls answered so far, per method (response_url posts as "response_url")."""
        with urllib.request.urlopen(self.base_url + "bench.counts", timeout=5) as resp:
            return dict(json.loads(resp.read())["counts"])

    def wait_counts(self, wanted: dict[str, int], timeout: float = 120.0) -> dict[str, int]:
        """Wait until each method has at least the wanted number of calls; returns the counts."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts()
            if all(counts.get(m, 0) >= n for m, n in wanted.items()):
                return counts
            if time.monotonic() > deadline:
                raise SystemExit(f"the bot did not finish its work: wanted {wanted}, stand-in saw {counts}")
            time.sleep(0.05)


# ---- databases ------------------------------------------------------------------------------


@contextlib.contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file in `tmp`, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'impact.db'}"
        return
    from sqlalchemy import create_engine, text

    name = f"impact_bench_{uuid.uuid4().hex[:12]}"  # several may be made in one second
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # noqa: BLE001 - say why, in one line
        raise SystemExit(f"no PostgreSQL at {PG_ADMIN_URL}: {e.__class__.__name__}: {e}") from None
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---- signed requests under load ------------------------------------------------------------


def signed_request(port: int, body: str, path: str = "/slack/events") -> bytes:
    """One HTTP/1.1 keep-alive POST of `body`, signed now as Slack signs it."""
    headers = signed_headers(SECRET, body)
    data = body.encode()
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(data)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 response; Content-Length or chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() != "close"


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, one per request
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0  # wall seconds from the first send to the last answer
    marked: int = 0  # answers whose body held `run_load`'s `marker`

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile (nearest rank) of the latencies, in seconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]


def run_load(
    port: int, bodies: Callable[[int], str], count: int, concurrency: int, marker: bytes | None = None
) -> LoadResult:
    """Send `count` signed bodies (`bodies(i)`) to /slack/events on `concurrency` keep-alive
    connections, each sending its next request as soon as the last one is answered; counts the
    answers whose body holds `marker`."""
    return asyncio.run(_load(port, bodies, count, concurrency, marker))


async def _load(
    port: int, bodies: Callable[[int], str], count: int, concurrency: int, marker: bytes | None
) -> LoadResult:
    result = LoadResult()
    next_index = iter(range(count))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in next_index:
                request = signed_request(port, bodies(i))
                start = time.perf_counter()
                writer.write(request)
                status, body, keep = await _read_response(reader)
                result.latencies.append(time.perf_counter() - start)
                result.marked += bool(marker and marker in body)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if not keep:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - start
    return result


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
