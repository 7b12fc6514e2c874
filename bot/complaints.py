"""Complaints become improvements: the channel message, the "What did we change?" modal, and
posting each complaint exactly once to the workspace's improvement channel.

PRODUCT.md "Complaints". A complaint logged in Slack (modal, quick log, Edit) is posted once,
after the user's confirmation; without an improvement channel, or when Slack refuses it, it
waits (managers see it in App Home) and goes out when a channel is set. Imported complaints
are never posted. All user text is escaped by bot.render's helpers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.delivery import DeliveryUncertain, find_post, post_once
from bot.messages import t
from bot.posting import CHANNEL_ERRORS, ChannelProblem
from bot.render import (
    HEADER_LIMIT,
    NAME_LIMIT,
    TEXT_LIMIT,
    blockquote,
    button_text,
    context,
    credited_users,
    escape,
    format_date,
    mention,
    notification_text,
    one_line,
    said_line,
    section,
    shorten,
)
from bot.services import Services
from domain.complaint import CHANGE_LIMIT, RESOLVED, Complaint, clean_change, marker
from domain.story import Story, is_user_id
from storage import channels, posts
from storage import complaints as store
from storage.models import utcnow

log = logging.getLogger("impact.complaints")

KIND = "complaint"
ACTION_OWN = "complaint_own"
ACTION_RESOLVE = "complaint_resolve"
RESOLVE_CALLBACK = "complaint_resolve_modal"
PENDING_LIMIT = 50  # complaints posted in one go when a channel is set; the rest on the next


def is_complaint(story: Story) -> bool:
    """The rule: only stories of kind complaint go to the improvement channel (never featured)."""
    return story.kind == KIND


# --- Rendering ------------------------------------------------------------------------------


def shown_customer(story: Story, lang: str) -> str:
    """The customer as others see it: "a customer" under anonymous consent."""
    name = one_line(story.customer) if story.consent != "anonymous" else ""
    return name or t("complaint.a_customer", lang)


def header_text(story: Story, lang: str) -> str:
    """The header, e.g. "Complaint: ACME", escaped like all user text, within 150 characters."""
    name = one_line(story.customer) if story.consent != "anonymous" else ""
    if not name:
        return t("complaint.header_anonymous", lang)[:HEADER_LIMIT]
    room = HEADER_LIMIT - len(t("complaint.header", lang, customer=""))
    return t("complaint.header", lang, customer=shorten(name, room))


def _state_blocks(complaint: Complaint, lang: str) -> list[Block]:
    if complaint.state == RESOLVED:
        line = t(
            "complaint.state.resolved",
            lang,
            resolver=mention(complaint.resolved_by) or escape(complaint.resolved_by),
            date=format_date(complaint.resolved_at, lang),
        )
        room = TEXT_LIMIT - len(t("complaint.change", lang, change=""))
        return [
            section(line),
            section(t("complaint.change", lang, change=shorten(complaint.change or " ", room))),
        ]
    if complaint.owner:
        owner = mention(complaint.owner) or escape(complaint.owner)
        return [
            section(t("complaint.state.owned", lang, owner=owner, date=format_date(complaint.owned_at, lang)))
        ]
    return [section(t("complaint.state.open", lang))]


def complaint_blocks(story: Story, complaint: Complaint, lang: str) -> list[dict[str, Any]]:
    """The improvement channel's message: who complained, their words, what it cost them, who
    logged it, where it stands, and I'll own this / Resolved until it is resolved."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header_text(story, lang))),
        section(shorten(story.quote or " ", TEXT_LIMIT, blockquote)),
    ]
    said = said_line(story, lang)
    if said:
        blocks.append(context(said))
    if story.impact.strip():
        room = TEXT_LIMIT - len(t("complaint.cost", lang, impact=""))
        blocks.append(section(t("complaint.cost", lang, impact=shorten(story.impact.strip(), room))))
    parts = [t("complaint.logged_by", lang, author=mention(story.author))] if is_user_id(story.author) else []
    credited = credited_users(story)
    if credited:
        parts.append(t("complaint.credited", lang, people=", ".join(mention(u) for u in credited)))
    if story.created_at is not None:
        parts.append(format_date(story.created_at, lang))
    if parts:
        blocks.append(context(" · ".join(parts)))
    blocks += _state_blocks(complaint, lang)
    if complaint.state != RESOLVED:
        value = str(story.id)
        blocks.append(
            ActionsBlock(
                block_id=f"complaint_actions_{story.id}",
                elements=[
                    ButtonElement(text=button_text(t("button.own", lang)), action_id=ACTION_OWN, value=value),
                    ButtonElement(
                        text=button_text(t("button.resolved", lang)),
                        action_id=ACTION_RESOLVE,
                        value=value,
                        style="primary",
                    ),
                ],
            )
        )
    return [b.to_dict() for b in blocks]


def complaint_text(story: Story, complaint: Complaint, lang: str) -> str:
    """The message's notification text: escaped, on one line, pinging nobody."""
    key = "complaint.text_resolved" if complaint.state == RESOLVED else "complaint.text"
    head = t(key, lang, customer=shown_customer(story, lang))
    return notification_text(f"{head} {story.quote}")


def resolve_modal(story: Story, lang: str) -> dict[str, Any]:
    """The "What did we change?" modal: the complaint as the channel saw it, and one answer."""
    summary = f"*{escape(shown_customer(story, lang))}*\n" + shorten(story.quote or " ", 1000, blockquote)
    return View(
        type="modal",
        callback_id=RESOLVE_CALLBACK,
        title=t("complaint.resolve.title", lang)[:24],
        submit=t("complaint.resolve.submit", lang)[:24],
        close=t("modal.cancel", lang)[:24],
        private_metadata=json.dumps({"story_id": story.id}),
        blocks=[
            section(summary),
            InputBlock(
                block_id="change",
                label=t("complaint.resolve.label", lang),
                hint=t("complaint.resolve.hint", lang),
                element=PlainTextInputElement(action_id="value", multiline=True, max_length=CHANGE_LIMIT),
            ),
        ],
    ).to_dict()


def read_change(view: dict[str, Any]) -> str:
    """What the resolver typed, cleaned ('' when missing)."""
    node: Any = view
    for key in ("state", "values", "change", "value", "value"):
        node = node.get(key) if isinstance(node, dict) else None
    return clean_change(node if isinstance(node, str) else "")


def resolve_metadata(view: dict[str, Any]) -> int | None:
    """The story id the resolve modal is about; None when the metadata is junk."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        story_id = meta.get("story_id") if isinstance(meta, dict) else None
        return (
            story_id
            if isinstance(story_id, int) and not isinstance(story_id, bool) and story_id > 0
            else None
        )
    except (TypeError, ValueError):
        return None


def resolved_dm(
    story: Story, complaint: Complaint, lang: str, *, author: bool
) -> tuple[list[dict[str, Any]], str]:
    """The direct message telling the author (or a credited colleague) what changed, and to tell
    the customer. The author knows the customer; a colleague sees "a customer" under anonymous consent."""
    name = shorten(one_line(story.customer), NAME_LIMIT) if author else escape(shown_customer(story, lang))
    name = name or escape(t("complaint.a_customer", lang))
    resolver = mention(complaint.resolved_by) or escape(complaint.resolved_by)
    head = t(
        "complaint.resolved_dm" if author else "complaint.resolved_dm_credited",
        lang,
        customer=name,
        resolver=resolver,
    )
    room = TEXT_LIMIT - len(t("complaint.change", lang, change=""))
    change = t("complaint.change", lang, change=shorten(complaint.change or " ", room))
    nudge = t("complaint.nudge" if author else "complaint.nudge_credited", lang, customer=name)
    blocks = [section(head).to_dict(), section(change).to_dict(), section(nudge).to_dict()]
    plain = story.customer if author else shown_customer(story, lang)
    return blocks, notification_text(t("complaint.resolved_dm_text", lang, customer=plain))


# --- Posting exactly once -------------------------------------------------------------------


@dataclass(frozen=True)
class PostingReport:
    """What posting the waiting complaints did: how many went out (or were found there), how many
    are uncertain (checked again next time), and Slack's refusal of the channel, if any."""

    posted: int = 0
    uncertain: int = 0
    problem: str | None = None


def channel_language(services: Services, ws: int, channel: str) -> str:
    """The channel's language (its schedule's), else the workspace's, else IMPACT_LANGUAGE."""
    with services.db.session() as session:
        found = channels.channel_settings(session, ws, channel)
    return services.poster.language(ws, found.language if found else None)


def complaint_saved(services: Services, client: WebClient, team_id: str, ws: int, story: Story) -> None:
    """After a story is saved through Slack and its author has their confirmation: a complaint is
    tracked, and posted once to the improvement channel (with any others waiting), or its post is
    brought up to date after an edit. Never raises: the story is stored whatever Slack does."""
    if not is_complaint(story):
        return
    try:
        with services.db.session() as session:
            complaint = store.track(session, ws, story.id)
            channel = store.improvement_channel(session, ws)
        if complaint is None:
            return
        if complaint.posted:
            refresh_post(services, client, ws, story.id)
            return
        if channel is None:
            log.info("complaint %s waits: no improvement channel in team %s", story.id, team_id)
            return
        report = post_waiting(services, client, ws, channel)
        if report.problem is not None:
            note_refusal(services, client, team_id, ws, channel, report.problem)
    except Exception as e:  # noqa: BLE001 - the complaint is stored; App Home shows it to managers
        log.error("complaint %s of team %s not posted: %r", story.id, team_id, e)


def post_waiting(services: Services, client: WebClient, ws: int, channel: str) -> PostingReport:
    """Post every tracked open complaint not yet in `channel`'s workspace's improvement channel,
    oldest first; stops at the first refusal of the channel (the rest would be refused too)."""
    with services.db.session() as session:
        waiting = store.unposted(session, ws, PENDING_LIMIT)
    if not waiting:
        return PostingReport()
    lang = channel_language(services, ws, channel)
    posted = uncertain = 0
    for story_id in waiting:
        try:
            outcome = post_complaint(services, client, ws, story_id, channel, lang)
        except ChannelProblem as e:
            return PostingReport(posted, uncertain, e.error)
        posted += outcome in ("posted", "found")
        uncertain += outcome == "uncertain"
    if posted:
        with services.db.session() as session:
            channels.note_channel_error(session, ws, channel, None)
    return PostingReport(posted, uncertain)


def post_complaint(
    services: Services, client: WebClient, ws: int, story_id: int, channel: str, lang: str
) -> str:
    """Post one complaint once: "posted", "found" (an earlier attempt got there), "taken" (another
    request is posting it, or it is posted), "uncertain" (Slack could not say: the next attempt
    checks first) or "failed". Raises ChannelProblem when Slack refuses the channel."""
    lease = services.poster.lease
    claim = store.claim_post(services.db, ws, story_id, channel, lease)
    if claim is None:
        return "taken"
    key = marker(story_id)
    if claim.check_since is not None:
        try:
            found = find_post(client, claim.check_channel, key, claim.check_since)
        except DeliveryUncertain as e:
            log.warning("complaint %s: %s; checking again next time", story_id, e)
            store.release_post(services.db, ws, story_id, uncertain_since=claim.check_since)
            return "uncertain"
        if found is not None:
            with services.db.session() as session:
                store.finish_post(session, ws, story_id, claim.check_channel, found.ts)
            return "found"
    since = utcnow()
    blocks, text = (
        complaint_blocks(claim.story, claim.complaint, lang),
        complaint_text(claim.story, claim.complaint, lang),
    )
    try:
        delivered = post_once(
            client, channel, key, blocks=blocks, text=text, payload={"story_id": story_id}, since=since
        )
    except SlackApiError as e:
        error = str(e.response.get("error") or f"HTTP {e.response.status_code}")
        store.release_post(services.db, ws, story_id, error=error[:64])
        log.warning("complaint %s not posted in %s: %s", story_id, channel, error)
        if error in CHANNEL_ERRORS:
            raise ChannelProblem(error) from None
        return "failed"
    except Exception as e:  # noqa: BLE001 - an answer lost, or no answer: check before the next try
        store.release_post(services.db, ws, story_id, uncertain_since=since)
        log.warning("complaint %s in %s uncertain: %r", story_id, channel, e)
        return "uncertain"
    with services.db.session() as session:
        store.finish_post(session, ws, story_id, channel, delivered.ts)
    log.info("complaint %s posted in %s (ts %s)", story_id, channel, delivered.ts)
    return "found" if delivered.found else "posted"


def refresh_post(services: Services, client: WebClient, ws: int, story_id: int) -> None:
    """Bring the complaint's channel message up to date (owner, resolution, an edit): chat.update,
    which changes nothing when repeated. Failures are logged; the stored state is what counts."""
    with services.db.session() as session:
        found = store.get_complaint(session, ws, story_id)
    if found is None or not found[1].posted:
        return
    story, complaint = found
    lang = channel_language(services, ws, complaint.channel)
    try:
        client.chat_update(
            channel=complaint.channel,
            ts=complaint.ts,
            blocks=complaint_blocks(story, complaint, lang),
            text=complaint_text(story, complaint, lang),
        )
    except Exception as e:  # noqa: BLE001 - the message shows an older state; the next step updates it
        log.warning("could not update complaint %s in %s: %r", story_id, complaint.channel, e)


def note_refusal(
    services: Services, client: WebClient, team_id: str, ws: int, channel: str, error: str
) -> None:
    """Slack refused the improvement channel: tell the managers once per channel and error (the
    person who logged the complaint hears nothing alarming; App Home shows what waits)."""
    with services.db.session() as session:
        first_time = channels.note_channel_error(session, ws, channel, error)
    if not first_time:
        return
    try:
        group = services.managers.group_members(client, team_id)
    except Exception as e:  # noqa: BLE001 - the group is unreadable: IMPACT_MANAGERS still hear
        log.warning("manager group unreadable (%r); telling IMPACT_MANAGERS only", e)
        group = frozenset()
    for user in sorted(set(services.settings.managers) | group):
        lang = services.poster.language_for_user(client, team_id, ws, user)
        send_once(
            client, user, text=t("complaint.channel_error_dm", lang, channel=channel, error=escape(error))
        )


def tell_resolved(
    services: Services, client: WebClient, ws: int, story: Story, complaint: Complaint, team_id: str = ""
) -> int:
    """Direct messages to the author and the credited colleagues, each in their own language:
    what changed, and a nudge to tell the customer. Each is sent at most once. Returns how many
    were sent."""
    recipients = [(story.author, True)] if is_user_id(story.author) else []
    recipients += [(u, False) for u in credited_users(story) if u != story.author]
    sent = 0
    for user, author in recipients:
        lang = services.poster.language_for_user(client, team_id, ws, user)
        blocks, text = resolved_dm(story, complaint, lang, author=author)
        where = send_once(client, user, text=text, blocks=blocks)
        if where is not None:
            sent += 1
            record_dm(services, ws, story.id, *where)
    return sent


def send_once(
    client: WebClient, user: str, *, text: str, blocks: list[dict[str, Any]] | None = None
) -> tuple[str, str] | None:
    """A direct message, sent at most once (never resent after a lost answer): its (channel, ts),
    or None when it failed (logged)."""
    try:
        sent = client.chat_postMessage(channel=user, text=text, blocks=blocks)
        return str(sent.get("channel") or ""), str(sent.get("ts") or "")
    except SlackApiError as e:
        log.warning("could not send a direct message to %s: %s", user, e.response.get("error"))
    except Exception as e:  # noqa: BLE001 - it may have arrived: not resent
        log.warning("could not send a direct message to %s: %r", user, e)
    return None


def record_dm(services: Services, ws: int, story_id: int, channel: str, ts: str) -> None:
    """Remember a direct message naming the complaint's customer, so `purge` can redact it."""
    if not channel or not ts:
        log.warning("a direct message about complaint %s came back without channel or ts", story_id)
        return
    try:
        with services.db.session() as session:
            posts.add_post(session, ws, channel, ts, "dm", story_id)
    except Exception as e:  # noqa: BLE001 - purge cannot redact this DM; said once in the log
        log.warning("could not record the direct message %s/%s: %r", channel, ts, e)
