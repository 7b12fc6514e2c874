"""Small query functions: the only place SQL lives. Every story query is scoped by workspace."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.story import Draft, Story
from storage.models import StoryRow, Workspace, utcnow


def workspace_id(session: Session, team_id: str, enterprise_id: str | None = None) -> int:
    """The id of the workspace row for this team, created on first use (race-safe)."""
    ent = enterprise_id or ""
    query = select(Workspace.id).where(Workspace.team_id == team_id, Workspace.enterprise_id == ent)
    found = session.scalar(query)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = Workspace(team_id=team_id, enterprise_id=ent)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        # Another process created it between our read and our insert.
        return session.scalars(query).one()


def find_workspace(session: Session, team_id: str) -> int | None:
    """The workspace id for a team or enterprise ID when exactly one workspace matches, else None."""
    found = find_workspaces(session, team_id)
    return found[0].id if len(found) == 1 else None


def workspaces(session: Session) -> list[WorkspaceKey]:
    """Every workspace as (id, team id, enterprise id), oldest first."""
    rows = session.execute(
        select(Workspace.id, Workspace.team_id, Workspace.enterprise_id).order_by(Workspace.id)
    )
    return [WorkspaceKey(r.id, r.team_id, r.enterprise_id or "") for r in rows]


def team_of(session: Session, ws: int) -> str:
    """The Slack team ID of a workspace row (the enterprise ID for an org-wide install)."""
    return session.scalars(select(Workspace.team_id).where(Workspace.id == ws)).one()


def to_story(row: StoryRow) -> Story:
    """The ORM row as a plain value."""
    return Story(
        id=row.id,
        workspace_id=row.workspace_id,
        customer=row.customer,
        quote=row.quote,
        contact=row.contact or "",
        impact=row.impact or "",
        kind=row.kind,
        tags=tuple(row.tags or ()),
        credited=tuple(row.credited or ()),
        consent=row.consent,
        source=row.source or "",
        author=row.author,
        channel=row.channel or "",
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _apply(row: StoryRow, draft: Draft) -> None:
    row.customer = draft.customer
    row.quote = draft.quote
    row.contact = draft.contact
    row.impact = draft.impact
    row.kind = draft.kind
    row.tags = list(draft.tags)
    row.credited = list(draft.credited)
    row.consent = draft.consent
    row.source = draft.source


def add_story(
    session: Session,
    ws: int,
    draft: Draft,
    author: str,
    channel: str = "",
    created_at: datetime | None = None,
) -> Story:
    """Store a validated draft and return it as a story."""
    now = created_at or utcnow()
    row = StoryRow(workspace_id=ws, author=author, channel=channel, created_at=now, updated_at=now)
    _apply(row, draft)
    session.add(row)
    session.flush()
    return to_story(row)


def _live(ws: int) -> list:  # type: ignore[type-arg]
    return [StoryRow.workspace_id == ws, StoryRow.deleted_at.is_(None)]


def get_story(session: Session, ws: int, story_id: int) -> Story | None:
    row = session.scalar(select(StoryRow).where(StoryRow.id == story_id, *_live(ws)))
    return to_story(row) if row else None


def update_story(session: Session, ws: int, story_id: int, draft: Draft) -> Story | None:
    """Replace the editable fields; None when the story is gone."""
    row = session.scalar(select(StoryRow).where(StoryRow.id == story_id, *_live(ws)))
    if row is None:
        return None
    _apply(row, draft)
    row.updated_at = utcnow()
    session.flush()
    return to_story(row)


def delete_story(session: Session, ws: int, story_id: int) -> Story | None:
    """Mark a story deleted (kept for post history); None when it was already gone."""
    row = session.scalar(select(StoryRow).where(StoryRow.id == story_id, *_live(ws)))
    if row is None:
        return None
    row.deleted_at = utcnow()
    session.flush()
    return to_story(row)


def stories_by_author(session: Session, ws: int, author: str, limit: int = 10) -> list[Story]:
    """The author's most recent stories, newest first."""
    query = (
        select(StoryRow)
        .where(StoryRow.author == author, *_live(ws))
        .order_by(StoryRow.created_at.desc(), StoryRow.id.desc())
        .limit(limit)
    )
    return [to_story(r) for r in session.scalars(query)]


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_stories(session: Session, ws: int, words: Sequence[str], limit: int = 10) -> list[Story]:
    """Stories where every word appears in customer, quote, contact, impact or tags."""
    conditions = []
    for word in words:
        pattern = f"%{_escape_like(word.lower())}%"
        conditions.append(
            or_(
                *(
                    func.lower(col).like(pattern, escape="\\")
                    for col in (
                        StoryRow.customer,
                        StoryRow.quote,
                        StoryRow.contact,
                        StoryRow.impact,
                    )
                ),
                func.lower(func.cast(StoryRow.tags, StoryRow.quote.type)).like(pattern, escape="\\"),
            )
        )
    query = (
        select(StoryRow)
        .where(*_live(ws), and_(*conditions))
        .order_by(StoryRow.created_at.desc(), StoryRow.id.desc())
        .limit(limit)
    )
    return [to_story(r) for r in session.scalars(query)]


def live_stories(session: Session, ws: int, kinds: Iterable[str] | None = None) -> list[Story]:
    """All stories of the workspace that are not deleted, oldest first."""
    query = select(StoryRow).where(*_live(ws)).order_by(StoryRow.created_at, StoryRow.id)
    if kinds is not None:
        query = query.where(StoryRow.kind.in_(list(kinds)))
    return [to_story(r) for r in session.scalars(query)]


def purge_customer(session: Session, ws: int, customer: str) -> int:
    """Erase every story of a customer (case-insensitive name match); returns how many."""
    result = session.execute(
        delete(StoryRow).where(
            StoryRow.workspace_id == ws,
            func.lower(StoryRow.customer) == customer.strip().lower(),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def has_story(session: Session, ws: int, customer: str, quote: str) -> bool:
    """True when a live story with this customer and quote exists (re-imports skip it)."""
    query = select(StoryRow.id).where(StoryRow.customer == customer, StoryRow.quote == quote, *_live(ws))
    return session.scalar(query.limit(1)) is not None


def workspace_language(session: Session, ws: int) -> str | None:
    return session.scalar(select(Workspace.language).where(Workspace.id == ws))


def set_workspace_language(session: Session, ws: int, language: str | None) -> None:
    row = session.get(Workspace, ws)
    if row is not None:
        row.language = language


class WorkspaceKey(NamedTuple):
    """A workspace row's identity: what `--team` on the command line selects."""

    id: int
    team_id: str
    enterprise_id: str

    @property
    def label(self) -> str:
        """`T123` outside Enterprise Grid, else `E456/T123`: a value `--team` selects exactly."""
        return f"{self.enterprise_id}/{self.team_id}" if self.enterprise_id else self.team_id


def find_workspaces(session: Session, key: str) -> list[WorkspaceKey]:
    """Workspaces a team ID, an enterprise ID or an `E…/T…` label names, oldest first.

    An Enterprise Grid org-wide install may be stored with the team and enterprise both set, or
    with the enterprise ID as its team ID; an enterprise ID finds every workspace of its org.
    A label (see WorkspaceKey.label) that equals one workspace's exactly selects only that one.
    """
    key = key.strip()
    enterprise, slash, team = key.rpartition("/")
    columns = select(Workspace.id, Workspace.team_id, Workspace.enterprise_id).order_by(Workspace.id)
    if slash:
        query = columns.where(Workspace.team_id == team, Workspace.enterprise_id == enterprise)
    else:
        query = columns.where(or_(Workspace.team_id == key, Workspace.enterprise_id == key))
    found = [WorkspaceKey(r.id, r.team_id, r.enterprise_id or "") for r in session.execute(query)]
    exact = [w for w in found if w.label == key]
    return exact or found


def workspace_for_key(session: Session, key: str) -> int:
    """The workspace a `--team` value names, created on first use (an E… ID as an org-wide install)."""
    enterprise, _, team = key.strip().rpartition("/")
    if not enterprise and team.startswith("E"):
        enterprise = team
    return workspace_id(session, team, enterprise)


def workspace_key(session: Session, ws: int) -> WorkspaceKey:
    """The team and enterprise IDs of a workspace row."""
    row = session.execute(
        select(Workspace.id, Workspace.team_id, Workspace.enterprise_id).where(Workspace.id == ws)
    ).one()
    return WorkspaceKey(row.id, row.team_id, row.enterprise_id or "")
