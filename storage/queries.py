"""Small query functions: the only place SQL lives. Every story query is scoped by workspace."""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, delete, event, func, insert, not_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.story import Draft, Story
from domain.viewer import STRANGER, Viewer
from storage.models import PostRow, ReactionRow, StoryRow, Workspace, utcnow

if TYPE_CHECKING:
    from storage.db import Database


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
    updated_at: datetime | None = None,
) -> Story:
    """Store a validated draft and return it as a story (times default to now; an import
    passes the exported ones)."""
    created = created_at or utcnow()
    updated = updated_at or created
    row = StoryRow(workspace_id=ws, author=author, channel=channel, created_at=created, updated_at=updated)
    _apply(row, draft)
    session.add(row)
    session.flush()
    return to_story(row)


# The columns a story is stored with, in the order `insert_story` fills them.
_STORY_VALUES = (
    "customer",
    "quote",
    "contact",
    "impact",
    "kind",
    "tags",
    "credited",
    "consent",
    "source",
    "author",
    "channel",
    "created_at",
    "updated_at",
)


def _insert_story_statement() -> Any:
    """INSERT INTO stories (...) SELECT workspaces.id, :customer, ... FROM workspaces WHERE the
    row is this team's: one statement that stores the story only in the workspace it names."""
    stories, workspaces = StoryRow.__table__, Workspace.__table__
    values = select(
        workspaces.c.id, *[bindparam(name, type_=stories.c[name].type) for name in _STORY_VALUES]
    ).where(
        workspaces.c.id == bindparam("ws"),
        workspaces.c.team_id == bindparam("team_id"),
        workspaces.c.enterprise_id == bindparam("enterprise_id"),
    )
    return insert(StoryRow).from_select(["workspace_id", *_STORY_VALUES], values).returning(stories.c.id)


_INSERT_STORY = _insert_story_statement()


def insert_story(
    conn: Connection | Session,
    ws: int,
    team_id: str,
    enterprise_id: str | None,
    draft: Draft,
    author: str,
    channel: str = "",
) -> Story | None:
    """Store a validated draft in workspace `ws` with one statement, no ORM unit of work; None
    (and nothing stored) when row `ws` is not (or no longer) the workspace of this team and
    enterprise, as a stale cached id would be. Runs in the caller's transaction."""
    now = utcnow()
    params = {
        "ws": ws,
        "team_id": team_id,
        "enterprise_id": enterprise_id or "",
        "customer": draft.customer,
        "quote": draft.quote,
        "contact": draft.contact,
        "impact": draft.impact,
        "kind": draft.kind,
        "tags": list(draft.tags),
        "credited": list(draft.credited),
        "consent": draft.consent,
        "source": draft.source,
        "author": author,
        "channel": channel,
        "created_at": now,
        "updated_at": now,
    }
    story_id = conn.execute(_INSERT_STORY, params).scalar()
    if story_id is None:
        return None
    return Story(
        id=story_id,
        workspace_id=ws,
        customer=draft.customer,
        quote=draft.quote,
        contact=draft.contact or "",
        impact=draft.impact or "",
        kind=draft.kind,
        tags=tuple(draft.tags),
        credited=tuple(draft.credited),
        consent=draft.consent,
        source=draft.source or "",
        author=author,
        channel=channel or "",
        created_at=now,
        updated_at=now,
    )


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


def search_stories(
    session: Session, ws: int, words: Sequence[str], limit: int = 10, viewer: Viewer = STRANGER
) -> list[Story]:
    """Stories where every word appears in customer, quote, contact, impact or tags.

    An anonymous story's customer and contact are searched only for those who may see them
    (its author and managers, as Viewer.sees_names says): for anyone else a hit on the name
    would tell them whose story it is.
    """
    names_hidden = None
    if not viewer.is_manager:
        names_hidden = and_(StoryRow.consent == "anonymous", StoryRow.author != (viewer.user_id or ""))
    conditions = []
    for word in words:
        pattern = f"%{_escape_like(word.lower())}%"

        def matches(col: Any, pattern: str = pattern) -> Any:
            return func.lower(col).like(pattern, escape="\\")

        names = or_(matches(StoryRow.customer), matches(StoryRow.contact))
        if names_hidden is not None:
            names = and_(names, not_(names_hidden))
        conditions.append(
            or_(
                names,
                matches(StoryRow.quote),
                matches(StoryRow.impact),
                matches(func.cast(StoryRow.tags, StoryRow.quote.type)),
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


def has_story(session: Session, ws: int, customer: str, quote: str) -> bool:
    """True when a live story with this customer and quote exists (re-imports skip it)."""
    query = select(StoryRow.id).where(StoryRow.customer == customer, StoryRow.quote == quote, *_live(ws))
    return session.scalar(query.limit(1)) is not None


def workspace_language(session: Session, ws: int) -> str | None:
    return session.scalar(select(Workspace.language).where(Workspace.id == ws))


def set_workspace_language(session: Session, ws: int, language: str | None) -> None:
    """Set the workspace's language; once the session commits, WorkspaceCache reads it again."""
    row = session.get(Workspace, ws)
    if row is not None:
        row.language = language
        session.info[_CHANGED] = True


# A workspace's language is taken from the process's cache for this long; a change made in
# another process sharing the database is seen within it (one made in this process at once).
LANGUAGE_TTL_SECONDS = 5.0
MAX_CACHED_WORKSPACES = 10_000  # (team, enterprise) pairs; past this the cache starts afresh
_CHANGED = "impact_language_changed"  # Session.info key: this transaction set a workspace's language


class WorkspaceCache:
    """Per process: the workspace row id of each (team, enterprise), and briefly its language.

    Every request needs its workspace's row id, and a row keeps its id for good: nothing in the
    bot deletes a workspace row (an uninstall deletes the installation, a purge erases stories,
    both keep the row). So an id is looked up once per process, not once per request. A write
    that must not land in another workspace checks the id in the same statement anyway
    (`insert_story`), and `forget` drops an id found stale, e.g. after an operator deleted the
    row by hand (SQLite may hand a deleted row's id to the next new workspace).

    A language is read again after LANGUAGE_TTL_SECONDS, and at once after a session of `db`
    that ran `set_workspace_language` commits (`/impact settings` in this process).
    """

    def __init__(
        self,
        db: Database,
        *,
        language_ttl: float = LANGUAGE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.language_ttl = language_ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, str], int] = {}
        # ws -> (expires at, self._changes when read, language or None)
        self._languages: dict[int, tuple[float, int, str | None]] = {}
        self._changes = 0  # committed changes to workspace rows seen so far
        event.listen(db.sessions, "after_commit", self._changes_committed)
        event.listen(db.sessions, "after_rollback", self._changes_dropped)

    def workspace_id(self, team_id: str, enterprise_id: str | None = None) -> int:
        """The workspace row of this team, created on first use; from the cache after that."""
        key = (team_id, enterprise_id or "")
        found = self._ids.get(key)
        if found is not None:
            return found
        with self.db.session() as session:
            found = workspace_id(session, team_id, enterprise_id)
        with self._lock:  # cached once committed, so a rolled-back row is never remembered
            if len(self._ids) >= MAX_CACHED_WORKSPACES:
                self._ids.clear()
            self._ids[key] = found
        return found

    def forget(self, team_id: str, enterprise_id: str | None, ws: int) -> None:
        """Drop a cached id found stale (only if it is still the one cached)."""
        key = (team_id, enterprise_id or "")
        with self._lock:
            if self._ids.get(key) == ws:
                del self._ids[key]
            self._languages.pop(ws, None)

    def language(self, ws: int) -> str | None:
        """The workspace's language as `/impact settings` set it (None: not set), cached briefly."""
        now = self.clock()
        hit = self._languages.get(ws)
        if hit is not None and hit[0] > now and hit[1] == self._changes:
            return hit[2]
        changes = self._changes  # read first: a change committed meanwhile is read again
        with self.db.session() as session:
            found = workspace_language(session, ws)
        with self._lock:
            if len(self._languages) >= MAX_CACHED_WORKSPACES:
                self._languages.clear()
            self._languages[ws] = (now + self.language_ttl, changes, found)
        return found

    def _changes_committed(self, session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            with self._lock:
                self._changes += 1

    def _changes_dropped(self, session: Session) -> None:
        session.info.pop(_CHANGED, None)


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


# --- erasure (`impact-bot purge`) -------------------------------------------------------------

# A post row whose message still has to be redacted in Slack: kind "purge:<what it was>".
PENDING_REDACTION = "purge:"


class PendingRedaction(NamedTuple):
    """One of the bot's messages that carried an erased story and must be redacted in Slack."""

    id: int  # the posts row
    channel_id: str
    ts: str
    kind: str  # what the message was: story, prompt, dm, complaint, invitation, ...
    prompt: str | None  # a stand-up prompt's own question, which may stay


def customer_key(name: str) -> str:
    """A customer name as purge compares it: exact, but blind to case (and Unicode form)."""
    return unicodedata.normalize("NFC", name.strip()).casefold()


def customer_story_ids(session: Session, ws: int, customer: str) -> list[int]:
    """The workspace's stories (live or deleted) whose customer is `customer`: the same name
    in any case, never a longer name that contains it. Runs in the caller's transaction."""
    key = customer_key(customer)
    if not key:
        return []
    # Compared here, not in SQL: SQLite's lower() knows only ASCII ("Müller" vs "MÜLLER").
    rows = session.execute(select(StoryRow.id, StoryRow.customer).where(StoryRow.workspace_id == ws))
    return [r.id for r in rows if customer_key(r.customer) == key]


def erase_stories(
    session: Session, ws: int, story_ids: Sequence[int], messages: Iterable[tuple[str, str, str]] = ()
) -> int:
    """Delete these stories for good; returns how many there were.

    The bot's messages that carried them (posts rows of the stories: story posts, prompts
    quoting them, direct messages; and `messages`, (channel, ts, kind) recorded elsewhere) are
    marked as owed a redaction in the same transaction, and their reactions dropped, so a crash
    before Slack is told leaves them to the next purge (see pending_redactions).
    Runs in the caller's transaction.
    """
    ids = list(story_ids)
    if not ids:
        return 0
    carried = list(
        session.scalars(select(PostRow).where(PostRow.workspace_id == ws, PostRow.story_id.in_(ids)))
    )
    for post in carried:
        if not post.kind.startswith(PENDING_REDACTION):
            post.kind = (PENDING_REDACTION + post.kind)[:16]
        post.story_id = None
    known = {(p.channel_id, p.ts) for p in carried}
    for channel, ts, kind in messages:
        if channel and ts and (channel, ts) not in known:
            known.add((channel, ts))
            recorded = session.scalar(select(PostRow).where(PostRow.channel_id == channel, PostRow.ts == ts))
            if recorded is None:
                session.add(
                    PostRow(workspace_id=ws, channel_id=channel, ts=ts, kind=(PENDING_REDACTION + kind)[:16])
                )
            elif not recorded.kind.startswith(PENDING_REDACTION):
                recorded.kind = (PENDING_REDACTION + recorded.kind)[:16]
    for channel, ts in known:
        session.execute(
            delete(ReactionRow).where(
                ReactionRow.workspace_id == ws, ReactionRow.channel_id == channel, ReactionRow.ts == ts
            )
        )
    session.flush()
    result = session.execute(delete(StoryRow).where(StoryRow.workspace_id == ws, StoryRow.id.in_(ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pending_redactions(session: Session, ws: int) -> list[PendingRedaction]:
    """The workspace's messages still to be redacted (this purge's and any earlier one's), oldest first."""
    rows = session.scalars(
        select(PostRow)
        .where(PostRow.workspace_id == ws, PostRow.kind.startswith(PENDING_REDACTION, autoescape=True))
        .order_by(PostRow.posted_at, PostRow.id)
    )
    return [
        PendingRedaction(r.id, r.channel_id, r.ts, r.kind[len(PENDING_REDACTION) :], r.prompt) for r in rows
    ]


def redaction_done(session: Session, ws: int, post_id: int) -> None:
    """Forget a message once it is redacted in Slack (or Slack says it no longer exists)."""
    session.execute(delete(PostRow).where(PostRow.workspace_id == ws, PostRow.id == post_id))
