"""The bot's posts and reactions: direct messages are recorded (for purge) but are not appreciation."""

from __future__ import annotations

from domain.story import Draft
from storage import posts, queries
from storage.db import Database


def test_reactions_on_direct_messages_are_not_appreciation(any_db: Database) -> None:
    with any_db.session() as s:
        ws = queries.workspace_id(s, "T111")
        story = queries.add_story(s, ws, Draft(customer="Acme", quote="Great"), "U1")
        posts.add_post(s, ws, "C1", "1.000001", "story", story.id)
        posts.add_post(s, ws, "DU1", "1.000002", "dm", story.id)
    posts.add_reaction(any_db, ws, "C1", "1.000001", "U2", "tada")
    posts.add_reaction(any_db, ws, "DU1", "1.000002", "U1", "heart")
    with any_db.session() as s:
        assert posts.is_bot_post(s, ws, "C1", "1.000001")
        assert not posts.is_bot_post(s, ws, "DU1", "1.000002")
        assert posts.appreciation(s, ws) == {story.id: 1}
