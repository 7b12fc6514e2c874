"""Choosing the customer of the week in the database: bot/selection.py's ranking as SQL.

bot/selection.py is the reference: `rank_candidates` sorts every candidate by one 8-part key
(recent customer, featured here, no channel tag, stale, -richness, -appreciation, -created,
-id). Here that key is the ORDER BY of one statement, ... LIMIT 1 OFFSET skip, run over a pool
of ids that provably holds every story that can be at positions 0..skip, so the database never
reads or sorts every candidate:

- Stories neither featured here nor of the channel's last 4 customers fall into 16 groups by
  (channel tag, fresh, richness); 8 without channel tags. The groups come in key order, and
  within one the key is appreciation, then newer. Walking a group newest first along an index
  (stories by workspace and creation time; story_tags by workspace, tag and creation time for
  the tagged groups) gives its newest `needed` stories. A group with fewer is taken whole; in
  the group that has enough, only its stories with reactions can outrank those newest ones,
  and only stories that were ever posted can have reactions: they come from the workspace's
  posts, which grow with schedules and weeks, not with stories.
- When every group is used up, the stories featured here come next (bounded by the channel's
  posts).
- Stories of recent customers rank after everyone else and stay out of the pool. If the pool's
  row at `skip` is one of theirs, or there is none (Shuffle past the end wraps around), or a
  query restricts the candidates (a customer's name contains it, which no index can find), the
  same ORDER BY runs over every candidate instead: exact, and still without loading a story
  into Python.

Names are compared exactly as bot/selection.py compares them: `str.strip` and `str.casefold`.
SQLite gets those as Python functions on each connection; PostgreSQL as SQL functions of the
same names that migration 0006 creates, along with the story_tags table and its triggers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from domain.story import Story
from storage.models import PostRow, ReactionRow, StoryRow, StoryTagRow
from storage.posts import featured_story_ids, recent_customers
from storage.queries import to_story

# The same rules as bot/selection.py (storage cannot import bot/); tests hold them equal.
CANDIDATE_KINDS = ("praise", "referral")
FRESH_FOR = timedelta(days=30)
RECENT_POSTS = 4
# The SQL functions that compare names (see the module docstring and migration 0006).
FOLD, CUSTOMER_KEY, TAG_KEY = "impact_fold", "impact_customer_key", "impact_tag_key"


def fold(value: Any) -> str | None:
    """`str.casefold`, or None for anything that is not text (SQL's NULL)."""
    return value.casefold() if isinstance(value, str) else None


def customer_key(name: Any) -> str | None:
    """A customer's name as the recent-customer rule compares it: trimmed, case-folded."""
    return name.strip().casefold() if isinstance(name, str) else None


def tag_key(tag: Any) -> str | None:
    """A tag as tag matching compares it: trimmed, without leading '#', case-folded."""
    return tag.strip().lstrip("#").strip().casefold() if isinstance(tag, str) else None


@dataclass(frozen=True)
class Pick:
    """The chosen story, and whether the pool was enough to know it (for tests and benchmarks)."""

    story: Story | None
    exact_scan: bool


def choose_candidate(
    session: Session,
    ws: int,
    channel_id: str,
    now: datetime,
    *,
    tags: Iterable[str] = (),
    query: str = "",
    skip: int = 0,
) -> Story | None:
    """The story bot/selection.py's `choose_story` would choose, ranked in the database.

    Candidates are the workspace's live praise and referral stories; `tags` are the channel's
    preferred tags; `query` restricts to customers containing it or a tag equal to it; `skip`
    (Shuffle) moves down the ranking and wraps around after the last candidate.
    Runs in the caller's transaction.
    """
    return pick_candidate(session, ws, channel_id, now, tags=tags, query=query, skip=skip).story


def pick_candidate(
    session: Session,
    ws: int,
    channel_id: str,
    now: datetime,
    *,
    tags: Iterable[str] = (),
    query: str = "",
    skip: int = 0,
) -> Pick:
    """choose_candidate, saying also whether every candidate had to be ranked."""
    _prepare(session)
    ranking = _Ranking(session, ws, channel_id, now, tags)
    words = query.strip().casefold()
    matches = ranking.query_filter(words, tag_key(query) or "") if words else None
    if skip < 0:  # as the reference indexes its list: from the end
        total = ranking.count(matches)
        if not total:
            return Pick(None, exact_scan=True)
        skip %= total
    if matches is None:
        found = ranking.first_in_pool(skip)
        if found is not None and not found[1]:
            return Pick(found[0], exact_scan=False)
    found = ranking.first_of_all(skip, matches)
    if found is None and skip > 0:
        total = ranking.count(matches)
        found = ranking.first_of_all(skip % total, matches) if total else None
    return Pick(found[0] if found else None, exact_scan=True)


def freshest_story(session: Session, ws: int, now: datetime, within: timedelta) -> Story | None:
    """The newest live praise or referral story created at most `within` before `now`.

    Runs in the caller's transaction.
    """
    query = (
        select(StoryRow)
        .where(*_candidates(ws), StoryRow.created_at >= _aware(now) - within)
        .order_by(StoryRow.created_at.desc(), StoryRow.id.desc())
        .limit(1)
    )
    row = session.scalar(query)
    return to_story(row) if row is not None else None


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _candidates(ws: int) -> list[ColumnElement[bool]]:
    return [
        StoryRow.workspace_id == ws,
        StoryRow.deleted_at.is_(None),
        StoryRow.kind.in_(CANDIDATE_KINDS),
    ]


@dataclass(frozen=True)
class _Group:
    """Fresh or not, with the channel's tags or not, and the other tests of one group."""

    tagged: bool
    fresh: bool
    where: list[ColumnElement[bool]]

    def age(self, created: Any, cutoff: datetime) -> ColumnElement[bool]:
        return created >= cutoff if self.fresh else created < cutoff


class _Ranking:
    """The parts of the sort key for one channel at one moment, as SQL expressions."""

    def __init__(
        self, session: Session, ws: int, channel_id: str, now: datetime, tags: Iterable[str]
    ) -> None:
        self.session = session
        self.ws = ws
        self.dialect = session.get_bind().dialect.name
        self.cutoff = _aware(now) - FRESH_FOR
        self.recent_keys = sorted(
            {k for k in map(customer_key, _recent_customers(session, ws, channel_id)) if k is not None}
        )
        self.channel_tags = sorted({k for k in map(tag_key, tags) if k} - {""})
        # Bounded by the channel's posts: fetched once, then a plain list in every statement.
        self.featured_ids = sorted(featured_story_ids(session, ws, channel_id))

    # --- the key's parts ------------------------------------------------------------------

    @cached_property
    def is_recent(self) -> ColumnElement[bool]:
        """1. the customer is among those of the channel's last 4 story posts."""
        if not self.recent_keys:
            return literal(False)
        return func.coalesce(getattr(func, CUSTOMER_KEY)(StoryRow.customer).in_(self.recent_keys), False)

    @cached_property
    def is_featured(self) -> ColumnElement[bool]:
        """2. featured in this channel before."""
        return StoryRow.id.in_(self.featured_ids) if self.featured_ids else literal(False)

    @cached_property
    def has_channel_tag(self) -> ColumnElement[bool]:
        """3. shares a tag with the channel (never, for a channel without tags)."""
        return self.tag_match(self.channel_tags) if self.channel_tags else literal(False)

    @cached_property
    def is_fresh(self) -> ColumnElement[bool]:
        """4. created within 30 days of now."""
        return StoryRow.created_at >= self.cutoff

    @cached_property
    def richness(self) -> ColumnElement[int]:
        """5. how many of impact, contact and credited colleagues are filled in."""
        credited = cast(StoryRow.credited, Text).not_in(["[]", "null"])
        return (
            case((StoryRow.impact != "", 1), else_=0)
            + case((StoryRow.contact != "", 1), else_=0)
            + case((credited, 1), else_=0)
        )

    def appreciation(self) -> ColumnElement[int]:
        """6. reactions on the story's posts (storage.posts.appreciation), one story at a time."""
        return (
            select(func.count(ReactionRow.id))
            .select_from(PostRow)
            .join(ReactionRow, _reacted_to(PostRow))
            .where(PostRow.workspace_id == self.ws, PostRow.story_id == StoryRow.id, _not_a_dm())
            .scalar_subquery()
        )

    def order_by(self, appreciation: ColumnElement[int]) -> list[ColumnElement[Any]]:
        """The whole key of bot/selection.py's rank_candidates, ascending."""
        return [
            case((self.is_recent, 1), else_=0),
            case((self.is_featured, 1), else_=0),
            case((self.has_channel_tag, 0), else_=1),
            case((self.is_fresh, 0), else_=1),
            self.richness.desc(),
            appreciation.desc(),
            StoryRow.created_at.desc(),  # 7. newer
            StoryRow.id.desc(),  # 8. higher id
        ]

    def tag_match(self, keys: Sequence[str]) -> ColumnElement[bool]:
        """Any of the story's tags, compared as tag_key compares them, is one of `keys`."""
        if self.dialect == "postgresql":
            array = case((func.json_typeof(StoryRow.tags) == "array", StoryRow.tags))
            elements = func.json_array_elements_text(array).table_valued("value")
        else:
            elements = func.json_each(StoryRow.tags).table_valued("value")
        key = getattr(func, TAG_KEY)(elements.c.value)
        return exists(select(literal(1)).select_from(elements).where(key.in_(list(keys))))

    def query_filter(self, words: str, tag: str) -> ColumnElement[bool]:
        """`/impact story WORDS`: the customer contains the words (any case), or a tag equals them.

        Every candidate is read for the customer; the tag is looked up in story_tags.
        """
        folded = getattr(func, FOLD)(StoryRow.customer)
        if self.dialect == "postgresql":
            customer = func.strpos(folded, words) > 0
        else:
            # SQLite's LIKE ignores case for ASCII alone, which is all an ASCII name needs; the
            # Python function, which costs more, reads only the other names.
            pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            plain = func.length(cast(StoryRow.customer, LargeBinary)) == func.length(StoryRow.customer)
            customer = case(
                (plain, StoryRow.customer.like(pattern, escape="\\")), else_=func.instr(folded, words) > 0
            )
        if not tag:
            return customer
        filed = select(StoryTagRow.story_id).where(
            StoryTagRow.workspace_id == self.ws, StoryTagRow.tag.in_(self.lookup([tag]))
        )
        return or_(customer, and_(StoryRow.id.in_(filed), self.tag_match([tag])))

    # --- the ranking on a small pool ------------------------------------------------------

    def groups(self) -> Iterator[_Group]:
        """Stories neither of a recent customer nor featured here, in groups, best group first.

        Within a group every such story has the same first five parts of the key, so it ranks
        by appreciation, then newer, then higher id.
        """
        plain: list[ColumnElement[bool]] = [not_(self.is_featured)]
        if self.recent_keys:
            plain.append(not_(self.is_recent))
        for tagged in (True, False) if self.channel_tags else (None,):
            for fresh in (True, False):
                for rich in range(3, -1, -1):
                    # Cheap tests first: the tag and the customer are functions of the row.
                    where = [self.richness == rich, *plain]
                    if tagged is not None:
                        where.append(self.has_channel_tag if tagged else not_(self.has_channel_tag))
                    yield _Group(tagged is True, fresh, where)

    def newest(self, group: _Group, limit: int) -> list[int]:
        """The group's `limit` newest stories.

        Stories with one of the channel's tags are walked per tag along the index of
        story_tags, so a tag that few stories carry costs little; the others along the index
        on stories (workspace_id, created_at).
        """
        if not group.tagged:
            created = StoryRow.created_at
            query = (
                select(StoryRow.id)
                .where(*_candidates(self.ws), group.age(created, self.cutoff), *group.where)
                .order_by(created.desc(), StoryRow.id.desc())
                .limit(limit)
            )
            return list(self.session.scalars(query))
        found: dict[int, datetime] = {}
        for key in self.lookup(self.channel_tags):
            created = StoryTagRow.created_at
            walk = (
                select(StoryTagRow.story_id, created)
                .join(StoryRow, StoryRow.id == StoryTagRow.story_id)
                .where(StoryTagRow.workspace_id == self.ws, StoryTagRow.tag == key)
                .where(group.age(created, self.cutoff), *_candidates(self.ws), *group.where)
                .order_by(created.desc(), StoryTagRow.story_id.desc())
                .limit(limit)
            )
            found.update((story, created_at) for story, created_at in self.session.execute(walk))
        # Each tag's newest `limit` holds every story among the newest `limit` of them all.
        return sorted(found, key=lambda story: (found[story], story), reverse=True)[:limit]

    def lookup(self, keys: Sequence[str]) -> list[str]:
        """The story_tags keys under which stories with one of these tags are filed."""
        if self.dialect == "postgresql":
            return list(keys)
        # SQLite files every tag that is not plain ASCII under '*' (migration 0006).
        return sorted({key for key in keys if key.isascii()} | {"*"})

    def posted(self, group: _Group) -> list[int]:
        """The group's stories that were ever posted, found from the workspace's posts.

        Only those can have reactions. Looking for reactions too would cost more than the few
        extra stories it leaves out: the pool may hold more than it needs, never less. Each is
        looked up by id in a correlated subquery fenced with OFFSET 0, so that neither database
        walks a story index instead (which grows with the stories; the posts do not).
        """
        posted = (
            select(PostRow.story_id)
            .where(PostRow.workspace_id == self.ws, PostRow.story_id.is_not(None))
            .distinct()
            .subquery()
        )
        where = [group.age(StoryRow.created_at, self.cutoff), *group.where]
        member = select(literal(1)).where(StoryRow.id == posted.c.story_id, *_candidates(self.ws), *where)
        return list(self.session.scalars(select(posted.c.story_id).where(member.offset(0).exists())))

    def featured_candidates(self) -> list[int]:
        """The stories featured here that are still candidates."""
        if not self.featured_ids:
            return []
        # `workspace_id + 0`: SQLite looks the ids up rather than walking a workspace index.
        query = select(StoryRow.id).where(
            StoryRow.id.in_(self.featured_ids),
            (StoryRow.workspace_id + 0) == self.ws,
            StoryRow.deleted_at.is_(None),
            StoryRow.kind.in_(CANDIDATE_KINDS),
        )
        return list(self.session.scalars(query))

    def pool(self, skip: int) -> list[int]:
        """Ids of every story that can be at positions 0..skip, unless a recent customer's is.

        The groups are visited best first. A group with fewer stories than still needed is
        taken whole. The group that has enough gives its newest `needed`, plus its stories that
        may have reactions, which can outrank newer ones. When every group is used up, the stories
        featured here come next.
        """
        needed, found = skip + 1, []
        for group in self.groups():
            newest = self.newest(group, needed)
            found += newest
            if len(newest) == needed:
                return found + self.posted(group)
            needed -= len(newest)
        return found + self.featured_candidates()

    def first_in_pool(self, skip: int) -> tuple[Story, bool] | None:
        """The row at `skip` of the pool ranked by the whole key, and whether it is of a recent customer."""
        ids = self.pool(skip)
        if not ids:
            return None
        query = select(StoryRow, self.is_recent.label("recent")).where(StoryRow.id.in_(ids))
        return self._first(query.order_by(*self.order_by(self.appreciation())), skip)

    # --- the ranking on every candidate ---------------------------------------------------

    def first_of_all(self, skip: int, matches: ColumnElement[bool] | None) -> tuple[Story, bool] | None:
        """The row at `skip` of every candidate (matching the query) ranked by the whole key."""
        counts = (
            select(PostRow.story_id.label("story_id"), func.count(ReactionRow.id).label("n"))
            .join(ReactionRow, _reacted_to(PostRow))
            .where(PostRow.workspace_id == self.ws, PostRow.story_id.is_not(None), _not_a_dm())
            .group_by(PostRow.story_id)
            .subquery("appreciation")
        )
        query = (
            select(StoryRow, self.is_recent.label("recent"))
            .outerjoin(counts, counts.c.story_id == StoryRow.id)
            .where(*_candidates(self.ws), *([matches] if matches is not None else []))
            .order_by(*self.order_by(func.coalesce(counts.c.n, 0)))
        )
        return self._first(query, skip)

    def count(self, matches: ColumnElement[bool] | None) -> int:
        query = select(func.count()).select_from(StoryRow).where(*_candidates(self.ws))
        if matches is not None:
            query = query.where(matches)
        return int(self.session.scalar(query) or 0)

    def _first(self, query: Select[Any], skip: int) -> tuple[Story, bool] | None:
        row = self.session.execute(query.limit(1).offset(skip)).first()
        return (to_story(row[0]), bool(row[1])) if row is not None else None


def _not_a_dm() -> ColumnElement[bool]:
    """Reactions on the bot's direct messages are not appreciation (storage.posts.appreciation)."""
    return PostRow.kind != "dm"


def _reacted_to(post: type[PostRow]) -> ColumnElement[bool]:
    """A reaction on that post (as storage.posts.appreciation joins them)."""
    return and_(ReactionRow.channel_id == post.channel_id, ReactionRow.ts == post.ts)


def _recent_customers(session: Session, ws: int, channel_id: str) -> list[str]:
    """Customers of the channel's last 4 story posts, newest first."""
    return list(recent_customers(session, ws, channel_id, limit=RECENT_POSTS))


def _prepare(session: Session) -> None:
    """SQLite: the name comparisons as Python functions, once per connection.

    PostgreSQL: no JIT for this transaction. These statements take milliseconds, but the
    planner prices the tag and name tests high and would spend longer compiling than running.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        return
    if connection.dialect.name != "sqlite":
        return
    pooled = connection.connection
    if pooled.info.get(FOLD):
        return
    raw = pooled.driver_connection
    for name, function in ((FOLD, fold), (CUSTOMER_KEY, customer_key), (TAG_KEY, tag_key)):
        raw.create_function(name, 1, function, deterministic=True)  # type: ignore[union-attr]
    pooled.info[FOLD] = True
