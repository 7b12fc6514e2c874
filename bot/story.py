"""A story as a plain value, and the rules its fields must follow (PRODUCT.md "A story")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

KINDS = ("praise", "complaint", "idea", "referral")
CONSENTS = ("internal", "anonymous", "public")

LIMITS = {"customer": 200, "quote": 3000, "contact": 200, "impact": 1000}
MAX_TAGS = 10
MAX_TAG_LENGTH = 30
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class Draft:
    """What a user typed for a story, before it is stored."""

    customer: str = ""
    quote: str = ""
    contact: str = ""
    impact: str = ""
    kind: str = "praise"
    tags: tuple[str, ...] = ()
    credited: tuple[str, ...] = ()
    consent: str = "internal"
    source: str = ""

    def cleaned(self) -> Draft:
        """Trim white space and normalise tags (lower case, no duplicates, no '#')."""
        tags: list[str] = []
        for tag in self.tags:
            t = tag.strip().lstrip("#").strip().lower()
            if t and t not in tags:
                tags.append(t)
        credited: list[str] = []
        for user in self.credited:
            if user not in credited:
                credited.append(user)
        return replace(
            self,
            customer=self.customer.strip(),
            quote=self.quote.strip(),
            contact=self.contact.strip(),
            impact=self.impact.strip(),
            kind=(self.kind or "praise").strip().lower(),
            consent=(self.consent or "internal").strip().lower(),
            source=self.source.strip(),
            tags=tuple(tags),
            credited=tuple(credited),
        )


@dataclass(frozen=True)
class Story(Draft):
    """A stored story, read in one session and handed around as a value."""

    id: int = 0
    workspace_id: int = 0
    author: str = ""
    channel: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    featured_count: int = 0
    reactions: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def draft(self) -> Draft:
        return Draft(
            customer=self.customer,
            quote=self.quote,
            contact=self.contact,
            impact=self.impact,
            kind=self.kind,
            tags=self.tags,
            credited=self.credited,
            consent=self.consent,
            source=self.source,
        )

    @property
    def is_rich(self) -> int:
        """How many of impact, contact and credits are filled in (0-3)."""
        return int(bool(self.impact)) + int(bool(self.contact)) + int(bool(self.credited))


def split_tags(text: str) -> tuple[str, ...]:
    """Tags typed as 'onboarding, #billing; data export' become three labels."""
    return tuple(t.strip() for t in re.split(r"[,;\n]+", text or "") if t.strip().lstrip("#"))


def validate(draft: Draft) -> dict[str, tuple[str, dict[str, Any]]]:
    """Return {field: (message_id, params)} for each rule the draft breaks; empty when valid."""
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    if not draft.customer:
        errors["customer"] = ("error.required", {})
    if not draft.quote:
        errors["quote"] = ("error.required", {})
    for name, limit in LIMITS.items():
        value = getattr(draft, name)
        if len(value) > limit:
            errors[name] = ("error.too_long", {"limit": limit, "length": len(value)})
    if draft.kind not in KINDS:
        errors["kind"] = ("error.choice", {"choices": ", ".join(KINDS)})
    if draft.consent not in CONSENTS:
        errors["consent"] = ("error.choice", {"choices": ", ".join(CONSENTS)})
    if len(draft.tags) > MAX_TAGS:
        errors["tags"] = ("error.too_many_tags", {"limit": MAX_TAGS})
    elif any(len(t) > MAX_TAG_LENGTH for t in draft.tags):
        errors["tags"] = ("error.tag_too_long", {"limit": MAX_TAG_LENGTH})
    if any(not USER_ID.match(u) for u in draft.credited):
        errors["credited"] = ("error.credited", {})
    if draft.source and not re.match(r"^https?://[^\s<>|]+$", draft.source, re.IGNORECASE):
        errors["source"] = ("error.source", {})
    return errors
