"""The bot scopes the code needs; manifest.json must grant exactly these (a test checks both)."""

from __future__ import annotations

# Each scope and the calls or events that need it.
BOT_SCOPES: dict[str, str] = {
    "commands": "the /impact command and the message shortcut",
    "chat:write": "chat.postMessage, chat.postEphemeral: posts, previews and direct messages",
    "users:read": "users.info: admins and owners are managers",
    "usergroups:read": "usergroups.list, usergroups.users.list: IMPACT_MANAGER_GROUP",
    "channels:history": "conversations.history: checks a slot cut off mid-post in public channels",
    "groups:history": "conversations.history: the same in private channels",
    "reactions:read": "reaction_added and reaction_removed events on story posts",
}


def bot_scopes() -> list[str]:
    """The bot scopes, sorted."""
    return sorted(BOT_SCOPES)
