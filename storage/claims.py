"""Slot claims: the durable lock that lets exactly one process post each scheduled slot.

A function that takes a `session` runs in the caller's transaction; one that takes the
`db` opens and commits its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.schedule import Claim
from storage.db import Database
from storage.models import (
    SlotClaim,
    utcnow,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def claim_slot(
    db: Database,
    ws: int,
    channel_id: str,
    kind: str,
    slot_at: datetime,
    owner: str,
    lease: timedelta,
    now: datetime | None = None,
) -> Claim | None:
    """Claim a slot for this process; None when another process has it or it is done.

    The unique (workspace, channel, kind, slot) row is the lock: the first insert wins. A claim
    left 'claimed' for longer than the lease belongs to a process that died; one process takes it
    over with a compare-and-swap on claimed_at, and must then check Slack before posting.

    Owns its transaction.
    """
    now = now or utcnow()
    try:
        with db.session() as session:
            row = SlotClaim(
                workspace_id=ws,
                channel_id=channel_id,
                kind=kind,
                slot_at=slot_at,
                status="claimed",
                owner=owner,
                claimed_at=now,
            )
            session.add(row)
            session.flush()
            return Claim(row.id, recovered=False)
    except IntegrityError:
        pass
    with db.session() as session:
        held = session.scalar(
            select(SlotClaim).where(
                SlotClaim.workspace_id == ws,
                SlotClaim.channel_id == channel_id,
                SlotClaim.kind == kind,
                SlotClaim.slot_at == slot_at,
            )
        )
        if held is None or held.status != "claimed" or held.claimed_at > now - lease:
            return None
        result = session.execute(
            update(SlotClaim)
            .where(
                SlotClaim.id == held.id,
                SlotClaim.status == "claimed",
                SlotClaim.claimed_at == held.claimed_at,
            )
            .values(owner=owner, claimed_at=now)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return Claim(held.id, recovered=True)
    return None


def finish_claim(session: Session, claim_id: int, status: str, ts: str | None = None, note: str = "") -> None:
    """Runs in the caller's transaction."""
    session.execute(
        update(SlotClaim)
        .where(SlotClaim.id == claim_id)
        .values(status=status, message_ts=ts, note=note, finished_at=utcnow())
    )


def release_claim(db: Database, claim_id: int, note: str) -> None:
    """Give a claim back after a transient failure: the next sweep takes it over and checks Slack.

    Owns its transaction.
    """
    with db.session() as session:
        session.execute(
            update(SlotClaim)
            .where(SlotClaim.id == claim_id, SlotClaim.status == "claimed")
            .values(claimed_at=EPOCH, note=note)
        )


def record_slot(
    db: Database, ws: int, channel_id: str, kind: str, slot_at: datetime, status: str, note: str
) -> bool:
    """Record a slot as skipped or failed without posting; False when it was already recorded.

    Owns its transaction.
    """
    try:
        with db.session() as session:
            session.add(
                SlotClaim(
                    workspace_id=ws,
                    channel_id=channel_id,
                    kind=kind,
                    slot_at=slot_at,
                    status=status,
                    note=note,
                    claimed_at=utcnow(),
                    finished_at=utcnow(),
                )
            )
        return True
    except IntegrityError:
        return False


def known_slots(
    session: Session, ws: int, channel_id: str, kind: str, since: datetime
) -> dict[datetime, str]:
    """{slot time: status} for the channel's slots after `since`.

    Runs in the caller's transaction.
    """
    rows = session.execute(
        select(SlotClaim.slot_at, SlotClaim.status).where(
            SlotClaim.workspace_id == ws,
            SlotClaim.channel_id == channel_id,
            SlotClaim.kind == kind,
            SlotClaim.slot_at > since,
        )
    )
    return {slot: status for slot, status in rows}
