"""`/impact references [words or tag]`: customers who agreed to be quoted publicly, for anyone."""

from __future__ import annotations

from bot.insights import REFERENCE_LIMIT, references_blocks, references_empty, references_title
from bot.quicklog import plain_text
from handlers.common import DB_ERRORS, apologise, log, say_ephemeral
from handlers.context import Invocation
from storage import insights as iq


def show_references(inv: Invocation) -> None:
    """Public stories only, referrals first, newest next, filtered by every word typed."""
    lang = inv.request.language
    typed = plain_text(inv.rest)
    # A tag may be typed as #tag; tags are stored without the '#'.
    words = [w.lstrip("#") for w in typed.split() if w.lstrip("#")]
    query = " ".join(words)
    try:
        ws = inv.request.workspace_id()
        with inv.services.db.session() as session:
            # One more than shown, to tell the user when there are more.
            stories = iq.references(session, ws, words, limit=REFERENCE_LIMIT + 1)
    except DB_ERRORS as e:
        log.error("could not list references for team %s: %r", inv.request.team_id, e)
        apologise(inv.respond, lang)
        return
    if not stories:
        say_ephemeral(inv.respond, references_empty(lang, query))
        return
    more = len(stories) > REFERENCE_LIMIT
    inv.respond(
        blocks=references_blocks(stories[:REFERENCE_LIMIT], lang, query, more),
        text=references_title(lang, query),
    )
