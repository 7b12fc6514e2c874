"""What App Home shows a contributor about their own stories."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuthorImpact:
    """What a contributor's live stories achieved: how many, how often featured, reactions."""

    stories: int = 0
    featured: int = 0
    reactions: int = 0
