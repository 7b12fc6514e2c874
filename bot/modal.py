"""The "Share a customer voice" modal: building it and reading what was submitted."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
    UrlInputElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.messages import t
from domain.story import (
    CONSENTS,
    KINDS,
    LIMITS,
    MAX_CREDITED,
    Draft,
    clean_text,
    is_user_id,
    is_web_url,
    split_tags,
)

CALLBACK_ID = "story_modal"
VALUE = "value"
FIELDS = ("customer", "quote", "contact", "impact", "kind", "tags", "credited", "consent", "source")


def _option(kind: str, prefix: str, lang: str) -> Option:
    return Option(value=kind, label=t(f"{prefix}.{kind}", lang)[:75])


def _initial(text: str, limit: int | None = None) -> str | None:
    """An input's initial value: the raw text (inputs show it literally, so it is not escaped),
    without control characters, cut to the field's limit where it has one."""
    value = clean_text(text)
    return (value[:limit] if limit else value) or None


def story_modal(
    draft: Draft | None = None,
    lang: str = "en",
    *,
    story_id: int | None = None,
    channel: str = "",
    response_url: str = "",
) -> dict[str, Any]:
    """The modal as a dict for views.open, prefilled from `draft`."""
    d = draft or Draft()
    # Only Slack user IDs can be preselected, at most as many as a story may credit.
    users = [u for u in dict.fromkeys(d.credited) if is_user_id(u)][:MAX_CREDITED]
    source = d.source if is_web_url(d.source) else None
    kinds = [_option(k, "kind", lang) for k in KINDS]
    consents = [_option(c, "consent", lang) for c in CONSENTS]
    kind_initial = next((o for o in kinds if o.value == d.kind), kinds[0])
    consent_initial = next((o for o in consents if o.value == d.consent), consents[0])
    blocks = [
        InputBlock(
            block_id="customer",
            label=t("modal.customer", lang),
            element=PlainTextInputElement(
                action_id=VALUE,
                initial_value=_initial(d.customer, LIMITS["customer"]),
                placeholder=t("modal.customer_hint", lang),
                max_length=LIMITS["customer"],
            ),
        ),
        InputBlock(
            block_id="quote",
            label=t("modal.quote", lang),
            hint=t("modal.quote_hint", lang),
            # No max_length: prefilled text over the limit must still open, then get an inline error.
            element=PlainTextInputElement(action_id=VALUE, multiline=True, initial_value=_initial(d.quote)),
        ),
        InputBlock(
            block_id="contact",
            label=t("modal.contact", lang),
            optional=True,
            element=PlainTextInputElement(
                action_id=VALUE,
                initial_value=_initial(d.contact, LIMITS["contact"]),
                placeholder=t("modal.contact_hint", lang),
                max_length=LIMITS["contact"],
            ),
        ),
        InputBlock(
            block_id="impact",
            label=t("modal.impact", lang),
            optional=True,
            element=PlainTextInputElement(
                action_id=VALUE,
                multiline=True,
                initial_value=_initial(d.impact, LIMITS["impact"]),
                max_length=LIMITS["impact"],
            ),
        ),
        InputBlock(
            block_id="kind",
            label=t("modal.kind", lang),
            element=StaticSelectElement(action_id=VALUE, options=kinds, initial_option=kind_initial),
        ),
        InputBlock(
            block_id="tags",
            label=t("modal.tags", lang),
            optional=True,
            hint=t("modal.tags_hint", lang),
            element=PlainTextInputElement(action_id=VALUE, initial_value=_initial(", ".join(d.tags))),
        ),
        InputBlock(
            block_id="credited",
            label=t("modal.credited", lang),
            optional=True,
            element=UserMultiSelectElement(
                action_id=VALUE, initial_users=users or None, max_selected_items=MAX_CREDITED
            ),
        ),
        InputBlock(
            block_id="consent",
            label=t("modal.consent", lang),
            element=StaticSelectElement(action_id=VALUE, options=consents, initial_option=consent_initial),
        ),
        InputBlock(
            block_id="source",
            label=t("modal.source", lang),
            optional=True,
            # Slack refuses a malformed initial URL, so only a valid http(s) one is prefilled.
            element=UrlInputElement(action_id=VALUE, initial_value=source),
        ),
    ]
    view = View(
        type="modal",
        callback_id=CALLBACK_ID,
        title=t("modal.title_edit" if story_id else "modal.title", lang),
        submit=t("modal.submit", lang),
        close=t("modal.cancel", lang),
        private_metadata=json.dumps({"story_id": story_id, "channel": channel, "response_url": response_url}),
        blocks=blocks,
    )
    return view.to_dict()


def read_submission(view: dict[str, Any]) -> Draft:
    """The draft from a view_submission payload's view.state.values."""
    values: dict[str, Any] = view.get("state", {}).get("values", {})

    def element(block: str) -> dict[str, Any]:
        return values.get(block, {}).get(VALUE, {}) or {}

    def text(block: str) -> str:
        return element(block).get("value") or ""

    def selected(block: str, default: str) -> str:
        option = element(block).get("selected_option") or {}
        return option.get("value") or default

    return Draft(
        customer=text("customer"),
        quote=text("quote"),
        contact=text("contact"),
        impact=text("impact"),
        kind=selected("kind", "praise"),
        tags=split_tags(text("tags")),
        credited=tuple(element("credited").get("selected_users") or ()),
        consent=selected("consent", "internal"),
        source=text("source"),
    ).cleaned()


def read_metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        return meta if isinstance(meta, dict) else {}
    except ValueError:
        return {}
