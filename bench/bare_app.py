"""The baseline for bench.ack_load: a bare Bolt app whose /impact listener only acks.

Served like the bot in HTTP mode: Bolt's WSGI adapter on /slack/events, waitress with 8
threads, `process_before_response=False`, a listener pool as large as the bot's
(`bot.app.LISTENER_THREADS`; Bolt's default is 5), and a Web API client pointed at the Slack
stand-in (Bolt checks the token with auth.test there). `GET /healthz` answers 200 for
readiness. Bolt verifies the signature itself here: the bot's request guard does that for the
bot.

    .venv/bin/python -m bench.bare_app --port 3001 --api-url http://127.0.0.1:8900/api/
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import waitress
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bench.harness import SECRET, TOKEN

THREADS = 8  # as the bot's waitress.serve(..., threads=8)
# As bot.app.LISTENER_THREADS, not imported: importing the bot would load its modules (and their
# objects, which every full garbage collection walks) into the baseline (tests/test_ack_path_guard).
LISTENER_THREADS = 32


def make_app(api_url: str) -> Callable[..., Iterable[bytes]]:
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=api_url),
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="bare-listener"),
    )

    @app.command("/impact")
    def impact(ack: Ack) -> None:
        ack()

    bolt = SlackRequestHandler(app, path="/slack/events")

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        return bolt(environ, start_response)

    return application


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True, help="the Slack stand-in's /api/ base URL")
    opts = parser.parse_args(argv)
    waitress.serve(make_app(opts.api_url), host="127.0.0.1", port=opts.port, threads=THREADS, ident="bare")


if __name__ == "__main__":
    main()
