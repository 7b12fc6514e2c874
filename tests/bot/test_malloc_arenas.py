"""The bot caps glibc's malloc arenas for itself at start (bot.runtime.limit_malloc_arenas), so
its memory stays flat without the operator setting MALLOC_ARENA_MAX (bench/README.md)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Sixteen threads each allocate outside pymalloc (over 512 bytes), then glibc prints its arenas.
PROBE = """
import ctypes, sys, threading
limit = sys.argv[1] == "limit"
if limit:
    from bot.runtime import limit_malloc_arenas
    print(limit_malloc_arenas())
def work():
    keep = [bytearray(4096) for _ in range(2000)]
threads = [threading.Thread(target=work) for _ in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()
"""

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")


def arenas(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        timeout=60,
        check=True,
    )
    return done.stdout.strip(), done.stderr.count("Arena ")


def test_the_bot_caps_its_malloc_arenas_where_glibc_would_make_one_per_thread() -> None:
    _, uncapped = arenas("plain")
    said, capped = arenas("limit")
    assert uncapped > 2  # what the cap is for: sixteen threads, more arenas than two
    assert said == "True" and capped <= 2


def test_an_operators_malloc_arena_max_is_left_as_it_is() -> None:
    said, count = arenas("limit", MALLOC_ARENA_MAX="4")
    assert said == "False" and 2 < count <= 4
