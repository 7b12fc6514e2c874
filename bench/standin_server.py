"""The Slack stand-in (tests/slack_standin.py) as a quiet process of its own, for benchmarks.

Running it apart keeps its work out of the process that sends the load and times it.
`GET /api/bench.counts` answers how many successful calls each method has had, so a
benchmark knows when the bot has finished the work it does after an ack.

    .venv/bin/python -m bench.standin_server --port 8900 [--rate-limit]
"""

from __future__ import annotations

import argparse
import threading
from collections import Counter
from typing import Any

from tests.slack_standin import Call, SlackStandin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--rate-limit", action="store_true", help="enforce Slack's posting limits")
    opts = parser.parse_args(argv)
    standin = SlackStandin("127.0.0.1", opts.port)

    def counts(call: Call) -> dict[str, Any]:
        # Runs under the stand-in's lock, so the list is not appended to meanwhile.
        return {"ok": True, "counts": Counter(c.method for c in standin.calls)}

    standin.answer("bench.counts", counts)
    if opts.rate_limit:
        standin.rate_limit()
    standin.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
