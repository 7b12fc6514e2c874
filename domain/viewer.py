"""Who is looking at a story, and what consent lets them see and do (PRODUCT.md "Consent and privacy")."""

from __future__ import annotations

from dataclasses import dataclass

from domain.story import Story


@dataclass(frozen=True)
class Viewer:
    """The person a rendering is for: their user ID (None when unknown) and manager rights.

    Manager rights that Slack could not confirm count as none: an unknown answer never reveals.
    """

    user_id: str | None = None
    is_manager: bool = False

    def is_author(self, story: Story) -> bool:
        return self.user_id is not None and story.author == self.user_id

    def may_change(self, story: Story) -> bool:
        """Edit and Delete: the author and managers."""
        return self.is_manager or self.is_author(story)

    def sees_names(self, story: Story) -> bool:
        """An anonymous story's customer and contact: only its author and managers see them."""
        return story.consent != "anonymous" or self.may_change(story)


# Someone with no claim on any story: sees what a colleague who is neither author nor manager sees.
STRANGER = Viewer()
