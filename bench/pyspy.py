"""Sampling a running process with py-spy, and summing the samples into where the CPU went.

py-spy (`.venv/bin/pip install py-spy`; not a dependency of the project) records the stacks of
the threads that are running, not waiting, so the share of samples in a function is its share
of the process's CPU time. `summarise` turns those shares into milliseconds per request with
the CPU time measured from /proc over the same requests.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

RATE = 200  # samples per second


def pyspy_path() -> str | None:
    """py-spy next to this interpreter (the venv), else on PATH."""
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


class Recording:
    """`py-spy record --pid PID` running until stop(); raw (collapsed) stacks in `out`."""

    def __init__(self, pid: int, out: Path) -> None:
        exe = pyspy_path()
        if exe is None:
            raise FileNotFoundError("py-spy")
        self.out = out
        argv = [exe, "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw"]
        argv += ["--threads", "--gil", "--nonblocking", "--output", str(out)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self) -> str:
        """Stop sampling and write the file; returns py-spy's own output (errors included)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            output, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate()
        return output or ""


FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+)(?::\d+)?\)$")
# Frames that every thread starts with, and that say nothing about where the time goes.
PLUMBING = ("threading.py", "concurrent/futures/thread.py")


# Where a quick log's CPU goes: each sample counts for the first bucket any of whose markers
# is in its stack. Markers name today's functions; samples whose functions were renamed fall
# through to the broader buckets below them, so the sum stays right.
QUICK_LOG_BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "confirmation: Block Kit built and serialised (bot/render, slack_sdk.models)",
        ("confirmation_blocks", "slack_sdk/models/"),
    ),
    (
        "response_url POST (SafeRespond, its keep-alive pool, http.client)",
        ("SafeRespond", "ResponseUrlPool", "slack_sdk/webhook/", "urllib/request.py", "http/client.py"),
    ),
    (
        "database: the story's INSERT (insert_story, or the ORM's add_story)",
        ("insert_story (", "add_story ("),
    ),
    ("database: workspace_id (look up the workspace row)", ("workspace_id (",)),
    ("database: the workspace's language", ("workspace_language (", "WorkspaceCache.language (")),
    ("database: sessions, commit, connection pool", ("sqlalchemy/", "storage/")),
    ("quick log parsed and validated", ("bot/quicklog.py", "bot/story.py", "domain/")),
    ("listener rest (Bolt's runner, handlers, language)", ("run_ack_function",)),
    ("Bolt (parse, authorize, middleware, runner, wait for the ack)", ("slack_bolt/",)),
    ("request guard before Bolt (bot/http_guard)", ("bot/http_guard.py",)),
    ("waitress (HTTP parsing, socket I/O)", ("waitress/",)),
    ("logging", ("logging/",)),
)


@dataclass
class Profile:
    total: int = 0
    by_thread: Counter[str] = field(default_factory=Counter)
    self_by_area: Counter[str] = field(default_factory=Counter)
    inclusive: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    buckets: Counter[str] = field(default_factory=Counter)


def thread_group(name: str) -> str:
    """Which part of the server a thread is, from its name."""
    if name.startswith("waitress"):
        return "HTTP threads (request in, wait for the ack, answer out)"
    if name.startswith(("impact-listener", "ThreadPoolExecutor")):
        return "listener threads (the listener: store, confirm, ack)"
    if name == "MainThread":
        return "main thread (waitress socket loop)"
    return f"other ({name})"


def area(file: str) -> str:
    """Project files by module, libraries by top-level package, the stdlib by module."""
    parts = file.split("/")
    if parts[0] in ("bot", "handlers", "storage", "domain"):
        return file
    if parts[0] == "slack_sdk" and len(parts) > 1:
        return "/".join(parts[:2])  # slack_sdk/models vs slack_sdk/web vs slack_sdk/webhook
    return parts[0].removesuffix(".py")


def parse(path: Path) -> Profile:
    prof = Profile()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[1] if frames[0].startswith("thread (") else "?"
        group = thread_group(thread)
        calls = frames[1:] if frames[0].startswith("thread (") else frames
        prof.total += count
        prof.by_thread[group] += count
        keys = []
        for frame in calls:
            m = FRAME.match(frame)
            func, file = (m["func"], m["file"]) if m else (frame, "?")
            if file.endswith(PLUMBING):
                continue
            keys.append(f"{func} ({file})")
        if calls:
            m = FRAME.match(calls[-1])
            prof.self_by_area[area(m["file"]) if m else "?"] += count
        for key in set(keys):
            prof.inclusive[group][key] += count
            prof.inclusive["all"][key] += count
        joined = ";".join(keys)
        bucket = next((name for name, marks in QUICK_LOG_BUCKETS if any(m in joined for m in marks)), "other")
        prof.buckets[bucket] += count
    return prof


def summarise(path: Path, cpu_ms_per_request: float, top: int = 25) -> list[str]:
    """Lines of text: CPU per request by thread group, by area (self time), top functions."""
    prof = parse(path)
    if not prof.total:
        return [f"py-spy wrote no samples to {path}"]

    def ms(samples: int) -> str:
        share = samples / prof.total
        return f"{share * 100:5.1f} %  {share * cpu_ms_per_request:6.2f} ms"

    lines = [
        f"{prof.total} samples of the thread holding the GIL; each line: share of the samples, and",
        "that share of the CPU per request measured from /proc (which also counts kernel time and",
        "C code run without the GIL, such as SQLite's, so those are spread over the Python samples):",
        "",
        "where the CPU of a quick log goes (each sample counted once, in the first bucket it fits):",
    ]
    for name, _ in (*QUICK_LOG_BUCKETS, ("other", ())):
        if prof.buckets[name]:
            lines.append(f"  {ms(prof.buckets[name])}  {name}")
    lines += ["", "by thread:"]
    for group, n in prof.by_thread.most_common():
        lines.append(f"  {ms(n)}  {group}")
    lines += ["", "self time by module or package (where the CPU is spent):"]
    for name, n in prof.self_by_area.most_common(15):
        lines.append(f"  {ms(n)}  {name}")
    for group, _ in prof.by_thread.most_common(2):
        lines += ["", f"inclusive time, {group} (a function and what it calls):"]
        for key, n in prof.inclusive[group].most_common(top):
            lines.append(f"  {ms(n)}  {key}")
    return lines
