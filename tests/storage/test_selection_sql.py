"""The customer of the week chosen in SQL is the story bot/selection.py's reference chooses.

Generated databases (several workspaces; stories of every kind, with tags, ages, richness and
deletions; posts of this and other channels, with reactions) on a SQLite file and on the local
PostgreSQL: for each, storage.selection.choose_candidate must equal choose_story over the same
stories and history, for Shuffle 0 to 3 and for generated queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text

from bot import selection as reference
from bot.selection import ChannelHistory, choose_story
from storage import channels, posts, queries
from storage import selection as sql
from storage.db import Database
from storage.models import ChannelRow, PostRow, ReactionRow, StoryRow, Workspace

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHANNEL, OTHER = "C1", "C2"

# Names and tags chosen to meet every rule of the comparison: case, white space, '#', and
# letters where casefold is not lower (ß, ẞ, final sigma, the fi ligature, dotted I).
CUSTOMERS = ["Acme", " acme ", "ACME", "Acme Corp", "Müller", "MÜLLER", "Straße", "STRASSE", "ΣΟΦΙΑ"]
CUSTOMERS += ["σοφιας", "ﬁnch", "Finch", "İnci", "i̇nci", "Globex", "Hooli\u3000", "x_%\\"]
TAGS = ["billing", "Billing", "#billing", " billing ", "export", "straße", "STRASSE", "#", "ﬁx", "fix"]
TAGS += ["onboarding-v2", "onboarding", "% _"]
QUERIES = ["", "  ", "acme", "ACME ", "#billing", " Billing ", "müller", "strasse", "ss", "fix", "ﬁ"]
QUERIES += ["σοφια", "nobody", "_", "%", "x_%\\", "# ", "i̇nci", "onboarding"]
# Ages around the 30-day line, ties, the future, and years.
AGES = [timedelta(days=d) for d in (0, 1, 2, 29, 31, 45, 400)] + [
    timedelta(days=30),
    timedelta(days=30, microseconds=1),
    timedelta(days=30, microseconds=-1),
    timedelta(days=-2),
]


@dataclass(frozen=True)
class World:
    stories: list[dict[str, Any]]  # workspace index, fields
    posts: list[dict[str, Any]]  # workspace index, channel, kind, story index, posted age
    reactions: list[tuple[int, int]]  # post index, user number
    channel_tags: list[str]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    stories = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "ws": st.sampled_from([0, 0, 0, 1, 2]),
                    # A few customers often, so the channel's recent ones have many stories.
                    "customer": st.sampled_from(["Acme", "ACME", "Globex"] * 4 + CUSTOMERS),
                    "kind": st.sampled_from(["praise", "praise", "referral", "complaint", "idea"]),
                    "tags": st.lists(st.sampled_from(TAGS), max_size=3),
                    "impact": st.sampled_from(["", "", "Renewed"]),
                    "contact": st.sampled_from(["", "CFO"]),
                    "credited": st.sampled_from([[], [], ["U01"], ["U01", "U02"]]),
                    "age": st.sampled_from(AGES),
                    "deleted": st.sampled_from([False, False, True]),
                }
            ),
            max_size=30,
        )
    )
    post_list: list[dict[str, Any]] = []
    if stories:
        post_list = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "channel": st.sampled_from([CHANNEL, CHANNEL, CHANNEL, OTHER]),
                        "kind": st.sampled_from(["story", "story", "prompt", "invitation", "dm"]),
                        "story": st.integers(0, len(stories) - 1),
                        "age": st.integers(0, 8),  # days; equal ages tie on posted_at
                    }
                ),
                max_size=12,
            )
        )
    reactions: list[tuple[int, int]] = []
    if post_list:
        reactions = draw(
            st.lists(
                st.tuples(st.integers(0, len(post_list) - 1), st.integers(0, 5)), unique=True, max_size=20
            )
        )
    channel_tags = draw(st.lists(st.sampled_from(TAGS + ["unused", ""]), max_size=3))
    return World(stories, post_list, reactions, channel_tags)


def store(db: Database, world: World) -> list[int]:
    """Replace the database's content with the world; returns the workspace ids."""
    with db.session() as s:
        for table in (ReactionRow, PostRow, ChannelRow, StoryRow, Workspace):
            s.execute(delete(table))
        wss = [
            s.scalars(insert(Workspace).returning(Workspace.id), {"team_id": f"T{i}"}).one() for i in range(3)
        ]
        story_ids: list[int] = []
        for fields in world.stories:
            created = NOW - fields["age"]
            row = {
                "workspace_id": wss[fields["ws"]],
                "customer": fields["customer"],
                "quote": "They said so.",
                "contact": fields["contact"],
                "impact": fields["impact"],
                "kind": fields["kind"],
                "tags": fields["tags"],
                "credited": fields["credited"],
                "author": "UAUTHOR",
                "created_at": created,
                "updated_at": created,
                "deleted_at": NOW if fields["deleted"] else None,
            }
            story_ids.append(s.scalars(insert(StoryRow).returning(StoryRow.id), row).one())
        post_ts: list[tuple[str, str]] = []
        for n, post in enumerate(world.posts):
            story_index = post["story"]
            ws = wss[world.stories[story_index]["ws"]]
            ts = f"1700000000.{n:06d}"
            s.execute(
                insert(PostRow),
                [
                    {
                        "workspace_id": ws,
                        "channel_id": post["channel"],
                        "ts": ts,
                        "kind": post["kind"],
                        "story_id": None if post["kind"] == "invitation" else story_ids[story_index],
                        "posted_at": NOW - timedelta(days=post["age"]),
                    }
                ],
            )
            post_ts.append((post["channel"], ts))
        for post_index, user in world.reactions:
            channel, ts = post_ts[post_index]
            ws = wss[world.stories[world.posts[post_index]["story"]]["ws"]]
            s.execute(
                insert(ReactionRow),
                [
                    {
                        "workspace_id": ws,
                        "channel_id": channel,
                        "ts": ts,
                        "user_id": f"U{user}",
                        "reaction": "+1",
                    }
                ],
            )
        s.execute(
            insert(ChannelRow),
            [{"workspace_id": wss[0], "channel_id": CHANNEL, "tags": world.channel_tags, "skip_dates": []}],
        )
    return wss


def reference_choice(db: Database, ws: int, query: str, skip: int) -> int | None:
    """What choose_for_channel chose before it moved to SQL: every story loaded and ranked."""
    with db.session() as s:
        stories = queries.live_stories(s, ws, kinds=("praise", "referral"))
        found = channels.channel_settings(s, ws, CHANNEL)
        history = ChannelHistory(
            featured_story_ids=posts.featured_story_ids(s, ws, CHANNEL),
            recent_customers=posts.recent_customers(s, ws, CHANNEL),
            tags=tuple(found.tags or ()) if found else (),
        )
        appreciation = posts.appreciation(s, ws)
    chosen = choose_story(stories, history, NOW, appreciation=appreciation, query=query, skip=skip)
    return chosen.id if chosen else None


def sql_choice(db: Database, ws: int, query: str, skip: int) -> int | None:
    with db.session() as s:
        found = channels.channel_settings(s, ws, CHANNEL)
        tags = found.tags if found else ()
        chosen = sql.choose_candidate(s, ws, CHANNEL, NOW, tags=tags, query=query, skip=skip)
    return chosen.id if chosen else None


@pytest.fixture
def selection_db(db: Database) -> Database:
    """One database per back end for all examples; each example replaces its content."""
    return db


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds(), query=st.sampled_from(QUERIES))
def test_sql_choice_is_the_reference_choice(selection_db: Database, world: World, query: str) -> None:
    wss = store(selection_db, world)
    for ws in wss[:2]:
        for skip in range(4):
            assert sql_choice(selection_db, ws, "", skip) == reference_choice(selection_db, ws, "", skip)
        for skip in (0, 2):
            assert sql_choice(selection_db, ws, query, skip) == reference_choice(
                selection_db, ws, query, skip
            )


def test_rules_are_the_reference_rules() -> None:
    assert set(sql.CANDIDATE_KINDS) == reference.CANDIDATE_KINDS
    assert sql.FRESH_FOR == reference.FRESH_FOR
    assert sql.RECENT_POSTS == reference.RECENT_POSTS
    for name in CUSTOMERS + TAGS + QUERIES:
        assert sql.customer_key(name) == reference._norm_customer(name)
        assert sql.tag_key(name) == reference._norm_tag(name)


@pytest.mark.parametrize(
    "sample",
    ["ÄCME ẞtraße ΣΑΣ İ ﬁne", "  Hello\u3000", "#  #Tag", "\u0085#x\u00a0", "ᏸᎠꭰ µ ſ ς ϐ", "ǅ ǈ Ω K Å", ""],
)
def test_postgresql_compares_names_as_python_does(pg_url: str, sample: str) -> None:
    database = Database(pg_url)
    database.migrate()
    try:
        with database.engine.connect() as conn:
            got = conn.execute(
                text("SELECT impact_fold(:s), impact_customer_key(:s), impact_tag_key(:s)"), {"s": sample}
            ).one()
        assert tuple(got) == (sql.fold(sample), sql.customer_key(sample), sql.tag_key(sample))
    finally:
        database.dispose()


def test_a_busy_channel_is_ranked_from_the_pool(any_db: Database) -> None:
    """With a realistic history the answer comes from the bounded pool, not a scan of everything."""
    with any_db.session() as s:
        ws = queries.workspace_id(s, "T1")
        for i in range(60):
            created = NOW - timedelta(days=i * 3)
            s.execute(
                insert(StoryRow),
                [
                    {
                        "workspace_id": ws,
                        "customer": f"Customer {i % 9}",
                        "quote": "q",
                        "kind": "praise" if i % 5 else "complaint",
                        "tags": ["billing"] if i % 4 == 0 else [],
                        "credited": [],
                        "impact": "x" if i % 3 == 0 else "",
                        "author": "U1",
                        "created_at": created,
                        "updated_at": created,
                    }
                ],
            )
        first = s.scalars(select(StoryRow.id).order_by(StoryRow.id)).all()
        posts.add_post(s, ws, CHANNEL, "1.1", "story", first[1])
    with any_db.session() as s:
        for skip in range(5):
            pick = sql.pick_candidate(s, ws, CHANNEL, NOW, tags=("billing",), skip=skip)
            assert pick.story is not None and not pick.exact_scan
    for skip in range(5):
        assert sql_choice(any_db, ws, "", skip) == reference_choice(any_db, ws, "", skip)


def _add(s: Any, ws: int, customer: str, days: float, **fields: Any) -> int:
    created = NOW - timedelta(days=days)
    row = {"workspace_id": ws, "customer": customer, "quote": "q", "author": "U1", "tags": [], "credited": []}
    row.update(created_at=created, updated_at=created, **fields)
    return int(s.scalars(insert(StoryRow).returning(StoryRow.id), row).one())


def test_stories_of_recent_customers_do_not_crowd_better_ones_out(any_db: Database) -> None:
    """The newest story of a group is of a recent customer: the next one of the group still wins."""
    with any_db.session() as s:
        ws = queries.workspace_id(s, "T1")
        featured = _add(s, ws, "Acme", 90)
        _add(s, ws, "ACME ", 0.5)  # fresh, but Acme was featured in the last post
        globex = _add(s, ws, "Globex", 2)  # the same group, older: the right choice
        initech = _add(s, ws, "Initech", 3)
        _add(s, ws, "Hooli", 60)  # another group, worse
        posts.add_post(s, ws, CHANNEL, "1.1", "story", featured)
    assert [sql_choice(any_db, ws, "", n) for n in range(2)] == [globex, initech]
    for skip in range(7):
        assert sql_choice(any_db, ws, "", skip) == reference_choice(any_db, ws, "", skip)


def test_story_tags_follow_every_write(any_db: Database) -> None:
    """Triggers keep story_tags: a new story, an edit of its tags, erasing it."""
    from domain.story import Draft
    from storage.models import StoryTagRow

    def filed(s: Any) -> list[tuple[int, str]]:
        return sorted(s.execute(select(StoryTagRow.story_id, StoryTagRow.tag)).tuples())

    with any_db.session() as s:
        ws = queries.workspace_id(s, "T1")
        story = queries.add_story(s, ws, Draft(customer="Acme", quote="q", tags=("billing", "export")), "U1")
        assert filed(s) == [(story.id, "billing"), (story.id, "export")]
        queries.update_story(s, ws, story.id, Draft(customer="Acme", quote="q", tags=("Onboarding",)))
        assert filed(s) == [(story.id, "onboarding")]
    with any_db.session() as s:
        assert sql_choice(any_db, ws, "#onboarding", 0) == story.id
        assert sql_choice(any_db, ws, "billing", 0) is None
        s.execute(delete(StoryRow).where(StoryRow.id == story.id))
    with any_db.session() as s:
        assert filed(s) == []


def test_upgrading_files_the_tags_of_existing_stories(request: Any) -> None:
    """Stories stored before migration 0006 find their tags in story_tags after it."""
    from alembic import command

    from storage.db import alembic_config
    from storage.models import StoryTagRow

    for backend in ("sqlite_url", "pg_url"):
        database = Database(request.getfixturevalue(backend))
        try:
            command.upgrade(alembic_config(database.engine), "0005")
            with database.engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO workspaces (team_id, created_at) VALUES ('T1', :t)"), {"t": NOW}
                )
                conn.execute(
                    text(
                        "INSERT INTO stories (workspace_id, customer, quote, author, tags, credited, "
                        "created_at, updated_at) "
                        "SELECT id, 'Acme', 'q', 'U1', :tags, '[]', :t, :t FROM workspaces"
                    ),
                    {"tags": '["Billing", "#export", "Stra\\u00dfe", ""]', "t": NOW},
                )
            database.migrate()
            with database.session() as s:
                tags = sorted(s.scalars(select(StoryTagRow.tag)))
            folded = ["billing", "export", "strasse"] if backend == "pg_url" else ["*", "billing", "export"]
            assert tags == folded
        finally:
            database.dispose()


def test_the_tag_triggers_exist_at_head(any_db: Database) -> None:
    """A later migration that rebuilds `stories` (SQLite batch mode) would drop them silently."""
    if any_db.engine.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'stories'"
    else:
        query = (
            "SELECT DISTINCT trigger_name FROM information_schema.triggers "
            "WHERE event_object_table = 'stories'"
        )
    with any_db.engine.connect() as conn:
        names = set(conn.execute(text(query)).scalars())
    expected = {"story_tags_after_insert", "story_tags_after_update"}
    if any_db.engine.dialect.name == "sqlite":
        expected.add("story_tags_after_delete")
    assert names == expected


def test_an_older_story_with_reactions_beats_newer_ones_of_its_group(any_db: Database) -> None:
    """Reactions on another channel's post lift an old story over many newer ones from the pool."""
    with any_db.session() as s:
        ws = queries.workspace_id(s, "T1")
        applauded = _add(s, ws, "Initech", 20)
        newer = [_add(s, ws, f"Customer {i}", i / 10) for i in range(1, 6)]
        posts.add_post(s, ws, OTHER, "9.1", "story", applauded)
        for user in ("U1", "U2"):
            s.add(ReactionRow(workspace_id=ws, channel_id=OTHER, ts="9.1", user_id=user, reaction="tada"))
    with any_db.session() as s:
        picks = [sql.pick_candidate(s, ws, CHANNEL, NOW, skip=n) for n in range(3)]
    assert [p.story.id for p in picks if p.story] == [applauded, newer[0], newer[1]]
    assert not any(p.exact_scan for p in picks)


def test_reactions_on_a_direct_message_are_not_appreciation(any_db: Database) -> None:
    with any_db.session() as s:
        ws = queries.workspace_id(s, "T1")
        dm_only = _add(s, ws, "Initech", 20)
        newest = _add(s, ws, "Globex", 1)
        posts.add_post(s, ws, "D0AUTHOR", "9.2", "dm", dm_only)
        s.add(ReactionRow(workspace_id=ws, channel_id="D0AUTHOR", ts="9.2", user_id="U1", reaction="tada"))
    assert sql_choice(any_db, ws, "", 0) == newest == reference_choice(any_db, ws, "", 0)
    assert sql_choice(any_db, ws, "e", 0) == newest == reference_choice(any_db, ws, "e", 0)
