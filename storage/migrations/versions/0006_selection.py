"""Choosing the customer of the week in the database: an index, a tag table, name functions.

- ix_posts_workspace_story: the stories ever posted (only they can have reactions) and the
  reactions per story.
- story_tags: every story's tags, one row each, trimmed, without leading '#' and case-folded
  as bot/selection.py compares them, with the story's workspace and creation time, so that a
  channel's tags find their stories newest first through an index instead of by reading every
  story's JSON. Triggers on stories keep it (any writer, even plain SQL); existing stories are
  filled in here. SQLite cannot case-fold beyond ASCII in SQL: there a tag that is not plain
  ASCII is filed under '*', and storage/selection.py checks those exactly.
- On PostgreSQL, the functions storage/selection.py compares names with: impact_fold (Python's
  str.casefold), impact_customer_key (str.strip, then casefold) and impact_tag_key (strip,
  lstrip '#', strip, casefold), plus impact_fold_unicode, the part of impact_fold for text that
  is not ASCII. SQLite gets them from Python on each connection.

A later migration that rebuilds `stories` on SQLite (batch mode copies the table) drops its
triggers and must create them again; tests/storage/test_selection_sql.py checks they exist.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# What str.strip() removes (no white space lies beyond U+3000).
WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
TRIGGERS = ("story_tags_after_insert", "story_tags_after_update", "story_tags_after_delete")


def _casefold_after_lower() -> tuple[str, str, list[tuple[str, str]]]:
    """Where casefold differs from lower: str.casefold(s) == fold each char of str.lower(s).

    Computed from this Python's Unicode tables: one-to-one foldings (for translate) and the
    others (for replace). Every such character is in the Basic Multilingual Plane.
    """
    single_from, single_to, multiple = [], [], []
    seen: set[str] = set()
    for code in range(0x10000):
        if 0xD800 <= code < 0xE000:
            continue
        for char in chr(code).lower():
            folded = char.casefold()
            if folded == char or char in seen:
                continue
            seen.add(char)
            if len(folded) == 1:
                single_from.append(char)
                single_to.append(folded)
            else:
                multiple.append((char, folded))
    return "".join(single_from), "".join(single_to), multiple


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _unicode_fold_sql(has_icu: bool) -> str:
    """casefold for any text: with ICU exact, without it the database locale's lower()."""
    if not has_icu:
        return "lower(s)"
    single_from, single_to, multiple = _casefold_after_lower()
    folded = f'translate(lower(s COLLATE "und-x-icu"), {_literal(single_from)}, {_literal(single_to)})'
    for char, replacement in multiple:
        folded = f"replace({folded}, {_literal(char)}, {_literal(replacement)})"
    return f'{folded} COLLATE "default"'


def _create_functions() -> None:
    bind = op.get_bind()
    has_icu = bind.execute(sa.text("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")).first()
    space = _literal(WHITESPACE)
    # As the driver's own SQL: the folding tables hold characters text() would parse.
    # The tables sit in a PL/pgSQL function, which PostgreSQL never inlines: inlined, their
    # dozens of replace() calls made every query using the names look so costly that the
    # planner compiled it with JIT, slower than running it.
    bind.exec_driver_sql(
        "CREATE OR REPLACE FUNCTION impact_fold_unicode(s text) RETURNS text "
        "LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE "
        f"AS $$ BEGIN RETURN {_unicode_fold_sql(has_icu is not None)}; END $$"
    )
    # These are plain SQL, inlined into the queries; ASCII text never calls the one above.
    ascii_only = 'lower(s COLLATE "C") COLLATE "default"'
    bodies = {
        "impact_fold": f"CASE WHEN octet_length(s) = char_length(s) THEN {ascii_only} "
        "ELSE impact_fold_unicode(s) END",
        "impact_customer_key": f"impact_fold(btrim(s, {space}))",
        "impact_tag_key": f"impact_fold(btrim(ltrim(btrim(s, {space}), '#'), {space}))",
    }
    for name, body in bodies.items():
        bind.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION {name}(s text) RETURNS text "
            f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {body} $$"
        )


# (index, table, columns): what storage/selection.py looks up, workspace first.
INDEXES = (("ix_posts_workspace_story", "posts", ["workspace_id", "story_id"]),)


def _sqlite_fill(story: str) -> str:
    """INSERT the tags of `story` (NEW in a trigger, or a FROM alias): the exact key for plain
    ASCII tags, '*' for the others, nothing for an empty one."""
    space = "char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32)"  # what str.strip removes from ASCII
    exact = f"lower(trim(ltrim(trim(j.value, {space}), '#'), {space}))"
    key = f"CASE WHEN length(CAST(j.value AS BLOB)) = length(j.value) THEN {exact} ELSE '*' END"
    tags = f"{story}.tags"
    array = f"CASE WHEN json_valid({tags}) THEN CASE WHEN json_type({tags}) = 'array' THEN {tags} END END"
    return (
        "INSERT OR IGNORE INTO story_tags (story_id, tag, workspace_id, created_at) "
        f"SELECT {story}.id, {key}, {story}.workspace_id, {story}.created_at "
        f"FROM json_each(coalesce({array}, '[]')) AS j WHERE j.type = 'text' AND {key} <> ''"
    )


def _sqlite_story_tags() -> None:
    fill = _sqlite_fill("NEW")
    op.execute(f"CREATE TRIGGER story_tags_after_insert AFTER INSERT ON stories BEGIN {fill}; END")
    op.execute(
        "CREATE TRIGGER story_tags_after_update AFTER UPDATE OF tags, workspace_id, created_at ON stories "
        f"BEGIN DELETE FROM story_tags WHERE story_id = OLD.id; {fill}; END"
    )
    op.execute(
        "CREATE TRIGGER story_tags_after_delete AFTER DELETE ON stories "
        "BEGIN DELETE FROM story_tags WHERE story_id = OLD.id; END"
    )
    # The stories already there: the same INSERT, with each story in place of NEW.
    existing = _sqlite_fill("s").replace("FROM json_each(", "FROM stories AS s, json_each(", 1)
    op.execute(existing)


def _postgresql_story_tags() -> None:
    def keys(tags: str) -> str:
        array = f"CASE WHEN json_typeof({tags}) = 'array' THEN {tags} END"
        return (
            "SELECT impact_tag_key(e #>> '{}') AS tag "
            f"FROM json_array_elements({array}) AS e WHERE json_typeof(e) = 'string'"
        )

    op.execute(
        "CREATE OR REPLACE FUNCTION impact_story_tags() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP = 'UPDATE' THEN DELETE FROM story_tags WHERE story_id = OLD.id; END IF; "
        "INSERT INTO story_tags (story_id, tag, workspace_id, created_at) "
        f"SELECT DISTINCT NEW.id, k.tag, NEW.workspace_id, NEW.created_at FROM ({keys('NEW.tags')}) AS k "
        "WHERE k.tag <> '' ON CONFLICT DO NOTHING; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER story_tags_after_insert AFTER INSERT ON stories "
        "FOR EACH ROW EXECUTE FUNCTION impact_story_tags()"
    )
    op.execute(
        "CREATE TRIGGER story_tags_after_update AFTER UPDATE OF tags, workspace_id, created_at ON stories "
        "FOR EACH ROW EXECUTE FUNCTION impact_story_tags()"
    )
    # Deleting a story deletes its tags through the foreign key, which PostgreSQL always enforces.
    op.execute(
        "INSERT INTO story_tags (story_id, tag, workspace_id, created_at) "
        "SELECT DISTINCT s.id, k.tag, s.workspace_id, s.created_at FROM stories AS s "
        f"CROSS JOIN LATERAL ({keys('s.tags')}) AS k WHERE k.tag <> '' ON CONFLICT DO NOTHING"
    )


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "story_tags",
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("story_id", "tag"),
    )
    op.create_index("ix_story_tags_lookup", "story_tags", ["workspace_id", "tag", "created_at", "story_id"])
    if op.get_bind().dialect.name == "postgresql":
        _create_functions()
        _postgresql_story_tags()
    else:
        _sqlite_story_tags()


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (" ON stories" if postgresql else ""))
    op.drop_index("ix_story_tags_lookup", table_name="story_tags")
    op.drop_table("story_tags")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS impact_story_tags()")
        for name in ("impact_tag_key", "impact_customer_key", "impact_fold", "impact_fold_unicode"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}(text)")
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
