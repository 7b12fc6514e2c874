"""Plain values and pure rules: a story, a draft, a schedule, what a channel has set up.

Imports nothing of the app (no Slack, no SQLAlchemy, nothing from bot/, handlers/ or storage/),
so every layer can use it.
"""
