"""A story as a plain value, and the rules its fields must follow (PRODUCT.md "A story")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

KINDS = ("praise", "complaint", "idea", "referral")
CONSENTS = ("internal", "anonymous", "public")

LIMITS = {"customer": 200, "quote": 3000, "contact": 200, "impact": 1000}
MAX_TAGS = 10
MAX_TAG_LENGTH = 30
MAX_CREDITED = 20  # colleagues credited on one story; Slack's user select is capped to match
MAX_SOURCE_LENGTH = 2000
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}\Z")  # \Z: no trailing newline slips through
# Control characters (C0, DEL, C1) except tab and newline, and lone surrogates, which JSON and
# Slack cannot carry. Dropped from everything stored and everything shown.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# What Slack's <url|label> markup cannot carry: white space, '<', '>' and '|'.
URL_TEXT = re.compile(r"[^\s<>|]+")


def clean_text(text: str) -> str:
    """Text without control characters other than newline and tab; CR LF and CR become LF."""
    return CONTROL.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n"))


def is_user_id(value: str) -> bool:
    """True for a Slack user ID such as U012AB3CD or W012AB3CD, never for a typed name."""
    return bool(USER_ID.fullmatch(value or ""))


def is_web_url(value: str) -> bool:
    """True for an absolute http(s) URL with a host and nothing Slack would read as markup."""
    if not value or len(value) > MAX_SOURCE_LENGTH or not URL_TEXT.fullmatch(value) or CONTROL.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


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
        """The draft as it may be stored: control characters dropped, white space trimmed,
        tags normalised (lower case, no duplicates, no '#'), credited IDs without duplicates.

        Text stays as the user typed it (no escaping): renderers escape it once when shown.
        Credited IDs are not filtered here, so validate() can refuse a name that is not an ID.
        """
        tags: list[str] = []
        for tag in self.tags:
            t = clean_text(tag).strip().lstrip("#").strip().lower()
            if t and t not in tags:
                tags.append(t)
        credited: list[str] = []
        for user in self.credited:
            u = clean_text(user).strip()
            if u and u not in credited:
                credited.append(u)
        return replace(
            self,
            customer=clean_text(self.customer).strip(),
            quote=clean_text(self.quote).strip(),
            contact=clean_text(self.contact).strip(),
            impact=clean_text(self.impact).strip(),
            kind=clean_text(self.kind or "praise").strip().lower(),
            consent=clean_text(self.consent or "internal").strip().lower(),
            source=clean_text(self.source).strip(),
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
    if any(not is_user_id(u) for u in draft.credited):
        errors["credited"] = ("error.credited", {})
    elif len(set(draft.credited)) > MAX_CREDITED:
        errors["credited"] = ("error.too_many_credited", {"limit": MAX_CREDITED})
    if len(draft.source) > MAX_SOURCE_LENGTH:
        errors["source"] = ("error.too_long", {"limit": MAX_SOURCE_LENGTH, "length": len(draft.source)})
    elif draft.source and not is_web_url(draft.source):
        errors["source"] = ("error.source", {})
    return errors
