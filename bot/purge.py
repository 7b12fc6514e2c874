"""Erasing a customer on request: their stories, and the bot's own Slack messages that carried them.

The stories go first, in one transaction that also marks each of the bot's messages that
carried them (story and complaint posts, stand-up prompts quoting them, direct messages) as
owed a redaction. Then each message is redacted with chat.update, with the workspace's own
token. A message Slack cannot be reached for stays marked, so the next purge in that
workspace tries it again; nothing is ever sent twice to a message already redacted.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.messages import t
from bot.prompts import prompt_blocks, prompt_fallback_text
from bot.render import notification_text, text_blocks
from storage import channels, complaints, queries
from storage.db import Database
from storage.queries import PendingRedaction

log = logging.getLogger("impact.purge")

# Slack's answers that mean the message can never be redacted by retrying: it is gone, or was
# never the bot's to change. Anything else (no token, a channel the bot lost, Slack down) is
# tried again by the next purge.
FINAL_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
NO_TOKEN = "no_token"

KIND_NAMES = {
    "story": "story post",
    "prompt": "stand-up prompt",
    "dm": "direct message",
    "complaint": "complaint post",
    "invitation": "invitation",
}


@dataclass(frozen=True)
class Unreached:
    """A message that could not be redacted, and Slack's reason (or ours)."""

    message: PendingRedaction
    reason: str

    @property
    def retried(self) -> bool:
        """True when the next purge tries it again (the reason may pass)."""
        return self.reason not in FINAL_ERRORS


@dataclass
class PurgeReport:
    """What a purge erased, redacted and could not reach."""

    customer: str
    workspace: str
    erased: int = 0
    redacted: list[PendingRedaction] = field(default_factory=list)
    unreached: list[Unreached] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report for the operator, ending with a one-line summary."""
        erased = _count(self.erased, "story", "stories")
        out = [f"workspace {self.workspace}: erased {erased} of {self.customer!r}"]
        if self.erased == 0:
            out.append("  (no story of that customer: the name must match exactly, in any case)")
        if self.redacted:
            out.append(f"redacted {_count(len(self.redacted), 'message', 'messages')}:")
            out += [f"  {_describe(m)}" for m in self.redacted]
        if self.unreached:
            out.append(f"could not reach {_count(len(self.unreached), 'message', 'messages')}:")
            for u in self.unreached:
                then = "the next purge tries again" if u.retried else "nothing left to redact"
                out.append(f"  {_describe(u.message)}: {u.reason} ({then})")
        out.append(self.summary())
        return out

    def summary(self) -> str:
        text = (
            f"erased {_count(self.erased, 'story', 'stories')}, "
            f"redacted {_count(len(self.redacted), 'message', 'messages')}, "
            f"could not reach {len(self.unreached)}"
        )
        if self.unreached:
            reasons = Counter(u.reason for u in self.unreached)
            text += " (" + ", ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items())) + ")"
        return text


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _describe(message: PendingRedaction) -> str:
    kind = KIND_NAMES.get(message.kind, message.kind or "message")
    return f"{kind} {message.channel_id} {message.ts}"


def purge_customer(
    db: Database,
    ws: int,
    customer: str,
    client_for: Callable[[], WebClient | None],
    default_language: str,
    workspace_label: str = "",
) -> PurgeReport:
    """Erase `customer`'s stories in workspace `ws`, then redact every message still owed a
    redaction there. `client_for` gives a client with the workspace's token, or None when it
    has none; it is called only when there is something to redact.

    Database errors propagate (nothing was erased, or everything was); Slack's never do: they
    end up in the report.
    """
    with db.session() as session:
        ids = queries.customer_story_ids(session, ws, customer)
        # Complaint posts are recorded with the complaint, not among the posts.
        elsewhere = [
            (channel, ts, "complaint") for _, channel, ts in complaints.posted_messages(session, ws, ids)
        ]
        erased = queries.erase_stories(session, ws, ids, elsewhere)
    report = PurgeReport(customer, workspace_label, erased)
    with db.session() as session:
        pending = queries.pending_redactions(session, ws)
        workspace_language = queries.workspace_language(session, ws) or default_language
        languages = {
            m.channel_id: _channel_language(session, ws, m.channel_id) or workspace_language for m in pending
        }
    if not pending:
        return report
    client = client_for()
    for message in pending:
        if client is None:
            report.unreached.append(Unreached(message, NO_TOKEN))
            continue
        reason = redact(client, message, languages[message.channel_id])
        if reason is None:
            report.redacted.append(message)
        else:
            report.unreached.append(Unreached(message, reason))
        if reason is None or reason in FINAL_ERRORS:
            with db.session() as session:
                queries.redaction_done(session, ws, message.id)
    return report


def _channel_language(session: Session, ws: int, channel_id: str) -> str | None:
    settings = channels.channel_settings(session, ws, channel_id)
    return settings.language if settings else None


def redaction(message: PendingRedaction, lang: str) -> tuple[list[dict[str, Any]], str]:
    """What the message becomes: a stand-up prompt keeps its question and loses the quote;
    anything else says the story was removed at the customer's request."""
    if message.kind == "prompt" and message.prompt:
        try:
            return prompt_blocks(message.prompt, None, lang), prompt_fallback_text(message.prompt)
        except ValueError:
            pass  # a prompt without text: the neutral line below
    text = t("purged.text", lang)
    return text_blocks(text), notification_text(text)


def redact(client: WebClient, message: PendingRedaction, lang: str) -> str | None:
    """Replace the message in Slack (blocks included: left out, Slack would keep the old ones);
    None when done, else Slack's error code or why Slack could not be asked."""
    blocks, text = redaction(message, lang)
    try:
        client.chat_update(channel=message.channel_id, ts=message.ts, text=text, blocks=blocks)
    except SlackApiError as e:
        error = str(e.response.get("error") or f"HTTP {e.response.status_code}")
        log.warning("could not redact %s/%s: %s", message.channel_id, message.ts, error)
        return error
    except Exception as e:  # noqa: BLE001 - Slack unreachable: reported, and retried next time
        log.warning("could not redact %s/%s: %r", message.channel_id, message.ts, e)
        return f"slack_unreachable ({type(e).__name__})"
    return None
