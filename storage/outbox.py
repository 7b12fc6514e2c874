"""Direct messages owed to featured people: recorded with the channel post, sent once, later.

A function that takes a `session` runs in the caller's transaction; one that takes the
`db` opens and commits its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import OwedDM, PostRow, SlotClaim, Workspace

# Statuses of an owed DM; see storage.models.OwedDM.
OWED, SENDING, SENT, FAILED, UNCERTAIN, DROPPED = "owed", "sending", "sent", "failed", "uncertain", "dropped"


@dataclass(frozen=True)
class Owed:
    """One direct message to send: to whom, about which story, for which occasion."""

    id: int
    workspace_id: int
    team_id: str
    enterprise_id: str
    story_id: int
    user_id: str
    message_id: str
    occasion_kind: str
    occasion_at: datetime
    attempts: int


def owe(
    session: Session,
    ws: int,
    story_id: int,
    recipients: Iterable[tuple[str, str]],
    occasion_kind: str,
    occasion_at: datetime,
    now: datetime,
) -> None:
    """Record the DMs owed for a featured story (user, message id); a DM already owed for this
    story, person and occasion (another channel of the same slot) is not owed twice.

    Runs in the caller's transaction: the DM is owed exactly when the post is recorded.
    """
    rows = [
        {
            "workspace_id": ws,
            "story_id": story_id,
            "user_id": user,
            "message_id": message_id,
            "occasion_kind": occasion_kind,
            "occasion_at": occasion_at,
            "status": OWED,
            "not_before": now,
            "attempts": 0,
            "owner": "",
            "note": "",
        }
        for user, message_id in recipients
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(OwedDM).values(rows).on_conflict_do_nothing())


def due(
    db: Database, now: datetime, settle_cap: timedelta, ws: int | None = None, limit: int = 200
) -> list[Owed]:
    """Owed DMs whose time has come, oldest first: every channel post of their occasion is
    settled (no slot claim of that workspace and time is still being posted), or the occasion
    is older than `settle_cap`.

    Owns its transaction.
    """
    open_claim = exists().where(
        SlotClaim.workspace_id == OwedDM.workspace_id,
        SlotClaim.kind == OwedDM.occasion_kind,
        SlotClaim.slot_at == OwedDM.occasion_at,
        SlotClaim.status == "claimed",
    )
    query = (
        select(OwedDM, Workspace.team_id, Workspace.enterprise_id)
        .join(Workspace, Workspace.id == OwedDM.workspace_id)
        .where(
            OwedDM.status == OWED,
            OwedDM.not_before <= now,
            (OwedDM.occasion_at < now - settle_cap) | ~open_claim,
        )
        .order_by(OwedDM.not_before, OwedDM.id)
        .limit(limit)
    )
    if ws is not None:
        query = query.where(OwedDM.workspace_id == ws)
    with db.session() as session:
        return [
            Owed(
                row.id,
                row.workspace_id,
                team,
                enterprise or "",
                row.story_id,
                row.user_id,
                row.message_id,
                row.occasion_kind,
                row.occasion_at,
                row.attempts,
            )
            for row, team, enterprise in session.execute(query)
        ]


def take(db: Database, dm_id: int, owner: str, now: datetime) -> bool:
    """Claim an owed DM for sending (compare-and-swap); False when another process has it.

    Owns its transaction.
    """
    with db.session() as session:
        result = session.execute(
            update(OwedDM)
            .where(OwedDM.id == dm_id, OwedDM.status == OWED)
            .values(status=SENDING, owner=owner, claimed_at=now, attempts=OwedDM.attempts + 1)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def finish(
    session: Session,
    dm_id: int,
    status: str,
    now: datetime,
    *,
    dm_channel: str | None = None,
    ts: str | None = None,
    note: str = "",
) -> None:
    """Runs in the caller's transaction."""
    session.execute(
        update(OwedDM)
        .where(OwedDM.id == dm_id)
        .values(
            status=status,
            sent_at=now if status == SENT else None,
            dm_channel=dm_channel,
            ts=ts,
            note=note[:500],
        )
    )


def later(db: Database, dm_id: int, not_before: datetime, note: str) -> None:
    """Back in line after a rate limit or an unsent request: sent at `not_before` or after.

    Owns its transaction.
    """
    with db.session() as session:
        session.execute(
            update(OwedDM)
            .where(OwedDM.id == dm_id, OwedDM.status == SENDING)
            .values(status=OWED, not_before=not_before, owner="", note=note[:500])
        )


def abandon_stale(db: Database, now: datetime, lease: timedelta) -> int:
    """DMs left 'sending' by a process that died: they may have arrived, so they are never
    resent; marked uncertain for the operator. Returns how many.

    Owns its transaction.
    """
    with db.session() as session:
        result = session.execute(
            update(OwedDM)
            .where(OwedDM.status == SENDING, OwedDM.claimed_at < now - lease)
            .values(status=UNCERTAIN, note="the process sending it stopped; not resent, it may have arrived")
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def featured_in(session: Session, dm: Owed) -> list[tuple[str, str]]:
    """(channel, ts) of the occasion's posts that featured the story, in posting order.

    Runs in the caller's transaction.
    """
    rows = session.execute(
        select(SlotClaim.channel_id, SlotClaim.message_ts)
        .join(
            PostRow,
            and_(
                PostRow.workspace_id == SlotClaim.workspace_id,
                PostRow.channel_id == SlotClaim.channel_id,
                PostRow.ts == SlotClaim.message_ts,
            ),
        )
        .where(
            SlotClaim.workspace_id == dm.workspace_id,
            SlotClaim.kind == dm.occasion_kind,
            SlotClaim.slot_at == dm.occasion_at,
            SlotClaim.status == "posted",
            PostRow.story_id == dm.story_id,
        )
        .order_by(SlotClaim.finished_at, SlotClaim.id)
    )
    return [(channel, ts or "") for channel, ts in rows]


def statuses(db: Database, ws: int) -> dict[str, int]:
    """How many owed DMs of the workspace are in each status (for tests and the operator)."""
    with db.session() as session:
        rows = session.execute(
            select(OwedDM.status, func.count()).where(OwedDM.workspace_id == ws).group_by(OwedDM.status)
        )
        return {status: int(n) for status, n in rows}
