"""The message catalog: every text a user sees, keyed by message id.

EN is the source: whole sentences with named placeholders. German and Dutch are gettext
catalogs keyed by the same ids (see bot.catalogs); `t` picks the language and fills the placeholders.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.catalogs import TRANSLATED, load_translations

log = logging.getLogger("impact.messages")

EN: dict[str, str] = {
    # The modal
    "modal.title": "Customer voice",
    "modal.title_edit": "Edit customer voice",
    "modal.submit": "Save",
    "modal.cancel": "Cancel",
    "modal.customer": "Customer",
    "modal.customer_hint": "Company or person, e.g. Acme Corp",
    "modal.quote": "What they said",
    "modal.quote_hint": "Their own words, as close to verbatim as you can.",
    "modal.contact": "Who said it",
    "modal.contact_hint": "Role or name, e.g. Head of Finance",
    "modal.impact": "What changed for them",
    "modal.kind": "Kind",
    "modal.tags": "Tags",
    "modal.tags_hint": "Team or product area, separated by commas",
    "modal.credited": "Colleagues who made it possible",
    "modal.consent": "Consent",
    "modal.source": "Source link",
    "kind.praise": "Praise",
    "kind.complaint": "Complaint",
    "kind.idea": "Idea",
    "kind.referral": "Referral",
    "consent.internal": "Internal: may be posted in our channels",
    "consent.anonymous": "Anonymous: post without customer and contact names",
    "consent.public": "Public: may be quoted outside the company",
    # Field errors
    "error.required": "Please fill this in.",
    "error.too_long": "This is {length} characters; the limit is {limit}.",
    "error.choice": "Choose one of: {choices}.",
    "error.too_many_tags": "Use at most {limit} tags.",
    "error.tag_too_long": "Each tag can be at most {limit} characters.",
    "error.credited": "Choose colleagues from the list.",
    "error.too_many_credited": "Credit at most {limit} colleagues.",
    "error.source": "Use a link starting with http:// or https://",
    # Quick log and confirmations
    "saved": "Saved. This is how your customer's voice will appear:",
    "updated": "Updated. This is how it will appear now:",
    "deleted": "Deleted the story from {customer}.",
    "button.edit": "Edit",
    "button.delete": "Delete",
    "confirm.delete_title": "Delete this story?",
    "confirm.delete_text": "The story from {customer} will no longer be featured or listed.",
    "confirm.delete_yes": "Delete",
    "confirm.delete_no": "Keep it",
    "too_long": (
        "That quote is {length} characters; a story can hold at most {limit}. "
        "Nothing was saved. Here is your text so you can shorten it:"
    ),
    "not_found": "That story no longer exists.",
    "not_yours": "Only the author or a manager can change this story.",
    "db_unavailable": (
        "Sorry, I couldn't reach my database just now, so nothing was saved. "
        "Please try again in a minute. Your text:"
    ),
    "db_unavailable_short": ("Sorry, I couldn't reach my database just now. Please try again in a minute."),
    "slack_error.not_in_channel": (
        "I'm not in this channel yet. Invite me with `/invite @Impact` and try again."
    ),
    "slack_error.channel_not_found": (
        "I can't see that channel. Invite me with `/invite @Impact` and try again."
    ),
    "slack_error.other": "Slack answered with an error ({error}). Please try again.",
    # Help
    "help": (
        "*Share what a customer said* — their own words inspire the team more than any "
        "retelling.\n"
        "• `/impact` opens a form.\n"
        "• `/impact Acme Corp: They closed the quarter a week early with the new export` "
        "logs it in one go. Mention colleagues (`@ann`) to credit them.\n"
        "• Also `Acme - …`, `Acme — …` or `Acme | …`.\n"
        "• `/impact list` (or `mine`) shows your recent stories, with Edit and Delete.\n"
        "• `/impact search export` finds stories of this workspace.\n"
        "• `/impact references` lists customers who agreed to be quoted publicly, to ask for an "
        "introduction.\n"
        "• On any message: ⋯ → *Save as customer voice*."
    ),
    "help.manager": (
        "*For managers*\n"
        "• `/impact story [#channel] [customer or tag]` previews a story to post now.\n"
        "• `/impact schedule` sets this channel's weekly story and stand-up prompts; "
        "`/impact schedule off` removes them.\n"
        "• `/impact settings` sets the improvement channel for complaints, your own stand-up "
        "prompts and the workspace language.\n"
        "• `/impact stats` shows this week's insights."
    ),
    # Lists
    "list.title": "Your recent customer voices:",
    "list.empty": "You haven't shared a customer voice yet. Try `/impact Acme: what they said`.",
    "search.title": "Stories matching “{query}”:",
    "search.empty": "No stories match “{query}”.",
    "search.usage": "Tell me what to look for, e.g. `/impact search onboarding`.",
    # Story rendering
    "story.header": "Customer of the week: {customer}",
    "story.header_anonymous": "Customer of the week: a customer",
    "story.anonymous": "A customer",
    "story.said": "— {contact}, {customer}",
    "story.said_customer": "— {customer}",
    "story.what_changed": "*What changed:* {impact}",
    "story.shared_by": "Shared by {author}",
    "story.made_possible": "Made possible by {people}",
    "story.question": "Who on our team touched this customer's journey? Reply in the thread.",
    "story.kind": "{kind}",
    "story.invitation": (
        "No customer voice to share this week yet. Heard something from a customer? "
        "Share it with `/impact Customer: what they said` and it may be next week's story."
    ),
    "story.source": "Source: {link}",
    # Posting, previews and schedules
    "featured.dm": "Your customer story from {customer} was just featured in <#{channel}>: {permalink}",
    "credited.dm": (
        "A customer story you made possible ({customer}) was just featured in <#{channel}>: {permalink}"
    ),
    "credited.dm_anonymous": (
        "A customer story you made possible was just featured in <#{channel}>: {permalink}"
    ),
    "featured.dm_many": (
        "Your customer story from {customer} was just featured in {count} channels: {channels}"
    ),
    "credited.dm_many": (
        "A customer story you made possible ({customer}) was just featured in {count} channels: {channels}"
    ),
    "credited.dm_anonymous_many": (
        "A customer story you made possible was just featured in {count} channels: {channels}"
    ),
    "purged.text": "This story was removed at the customer's request.",
    "channel_error.dm.story": (
        "I couldn't post the scheduled customer of the week in <#{channel}> ({error}). "
        "Invite me with `/invite @Impact` in that channel, or remove its schedule with "
        "`/impact schedule off` there. I won't repeat this message for this channel."
    ),
    "channel_error.dm.prompt": (
        "I couldn't post the scheduled stand-up prompt in <#{channel}> ({error}). "
        "Invite me with `/invite @Impact` in that channel, or remove its schedule with "
        "`/impact schedule off` there. I won't repeat this message for this channel."
    ),
    "preview.title": "Preview for <#{channel}>, visible only to you:",
    "preview.empty": "No story matches “{query}”. Try another customer or tag, or leave it out.",
    "preview.invitation": "There is no customer story to post yet; this invitation would go out instead:",
    "button.post": "Post",
    "button.shuffle": "Shuffle",
    "button.cancel": "Cancel",
    "posted": "Posted in <#{channel}>: {permalink}",
    "post.found": "Slack's answer got lost on the way, but the story is in <#{channel}>: {permalink}",
    "post.uncertain": (
        "Slack didn't answer in time, so I can't tell whether the story reached <#{channel}>. "
        "Have a look there; if it's missing, click Post again. I'll check first and never post it twice."
    ),
    "post.failed": (
        "I couldn't post in <#{channel}>: Slack didn't answer. Please try again; "
        "I'll check first and never post it twice."
    ),
    "slack_unreachable": "Slack didn't answer in time, so that didn't work. Please try again in a moment.",
    "manager_check_failed": (
        "I couldn't check your manager rights with Slack just now. Please try again in a moment."
    ),
    "foreign_workspace": "This Impact bot serves another workspace; nothing was saved.",
    "listener_failed": "Sorry, something went wrong on my side and nothing was saved. Please try again.",
    "already_posted": "That preview was already posted.",
    "schedule.title": "Channel schedule",
    "schedule.story_days": "Customer of the week: days",
    "schedule.story_time": "Customer of the week: time (HH:MM)",
    "schedule.prompt_days": "Stand-up prompt: days",
    "schedule.prompt_time": "Stand-up prompt: time (HH:MM)",
    "schedule.timezone": "Time zone (IANA, e.g. Europe/Berlin)",
    "schedule.skip": "Skip dates (holidays), e.g. 2026-12-24, 2026-12-31",
    "schedule.tags": "Prefer stories with these tags",
    "schedule.language": "Language",
    "schedule.saved": "Saved. This channel's schedule:\n{lines}",
    "schedule.removed": "Removed this channel's schedules; nothing more will be posted here.",
    "schedule.none": "This channel had no schedule.",
    "schedule.line": "• {kind}: {when} — next: {next}",
    "schedule.kind.story": "Customer of the week",
    "schedule.kind.prompt": "Stand-up prompt",
    "schedule.when": "{days} at {time} ({timezone})",
    "date.day_time": "{date} at {time}",
    "error.time": "Use a 24-hour time like 09:00.",
    "error.timezone": "Use an IANA time zone such as Europe/Berlin.",
    "error.days_or_time": "Choose at least one day, or clear the time.",
    "error.dates": "These are not dates (YYYY-MM-DD): {bad}",
    "error.no_schedule": "Choose days for the story, the prompt, or both.",
    "day.mon": "Mon",
    "day.tue": "Tue",
    "day.wed": "Wed",
    "day.thu": "Thu",
    "day.fri": "Fri",
    "day.sat": "Sat",
    "day.sun": "Sun",
    "language.en": "English",
    "language.de": "Deutsch",
    "language.nl": "Nederlands",
    "settings.title": "Impact settings",
    "settings.prompts": "Your own stand-up prompts, one per line",
    "settings.saved": "Saved the workspace settings ({count} custom prompts).",
    "error.prompts": "Use at most {count} prompts of at most {limit} characters each.",
    # App Home
    "home.mine.title": "Your customer voices",
    "home.mine.stats": (
        "Stories you shared: *{stories}*\nTimes featured: *{featured}*\nReactions received: *{reactions}*"
    ),
    "home.mine.empty": (
        "You haven't shared a customer voice yet. Heard something from a customer? "
        "`/impact Acme Corp: what they said` logs it in one go."
    ),
    "home.recent.title": "Recent customer voices",
    "home.recent.empty": "No customer voices yet. Be the first: `/impact Customer: what they said`.",
    "home.schedules.title": "Scheduled posts",
    "home.schedules.empty": "No channel has a schedule yet. Use `/impact schedule` in a channel to set one.",
    "home.schedules.channel": "*<#{channel}>*\n{lines}",
    "home.schedules.more": "…and {count} more channels with schedules.",
    "home.complaints.title": "Open complaints: {count}",
    "home.complaints.empty": "No open complaints.",
    "home.complaints.more": "Showing the {shown} most recent of {count}.",
    "button.post_now": "Post now",
    "confirm.post_now_title": "Post a story now?",
    "confirm.post_now_text": "I'll post a customer story in <#{channel}> right away.",
    "confirm.post_now_yes": "Post",
    "confirm.post_now_no": "Cancel",
    "prompt.voice": "*Voice of the customer*",
    # The built-in stand-up prompts: about the effect on customers, not about activity
    "prompt.builtin.01": "Which customer will notice today's work, and how?",
    "prompt.builtin.02": "What changed for a customer because of something you did yesterday?",
    "prompt.builtin.03": "What support do you need from me to make a customer's day better?",
    "prompt.builtin.04": "Which customer problem would you fix first if you had a free hour?",
    "prompt.builtin.05": "Which customer would be disappointed if today's work slipped a week?",
    "prompt.builtin.06": "What did a customer say or do recently that surprised you?",
    "prompt.builtin.07": "Where did a customer get stuck this week, and what would unstick them?",
    "prompt.builtin.08": "Which piece of today's work saves a customer the most time?",
    "prompt.builtin.09": "What would a customer thank us for if they saw what you are working on?",
    "prompt.builtin.10": "Which customer could we delight this week with a small change?",
    "prompt.builtin.11": "What is one thing customers still have to work around that we could remove?",
    "prompt.builtin.12": "How will we know a customer benefited from what you ship today?",
    "prompt.builtin.13": "Which customer conversation should the whole team hear about?",
    "prompt.builtin.14": "What risk to a customer's success do you see that we should act on?",
    "manager_only": "Only managers can do that. Ask a manager, or see `/impact help`.",
    # Complaints
    "complaint.a_customer": "A customer",
    "complaint.header": "Complaint: {customer}",
    "complaint.header_anonymous": "Complaint: a customer",
    "complaint.text": "Complaint from {customer}:",
    "complaint.text_resolved": "Resolved complaint from {customer}:",
    "complaint.cost": "*What it cost them:* {impact}",
    "complaint.logged_by": "Logged by {author}",
    "complaint.credited": "With {people}",
    "complaint.state.open": ":red_circle: *Open.* Who will own this?",
    "complaint.state.owned": ":large_yellow_circle: *Owned by* {owner} since {date}",
    "complaint.state.resolved": ":white_check_mark: *Resolved* by {resolver} on {date}",
    "complaint.change": "*What we changed:* {change}",
    "button.own": "I'll own this",
    "button.resolved": "Resolved",
    "complaint.owned_by_other": "{owner} already owns this complaint (since {date}).",
    "complaint.owned_by_you": "You already own this complaint.",
    "complaint.already_resolved": "This complaint was already resolved by {resolver} on {date}.",
    "complaint.already_resolved_inline": "Someone resolved this complaint in the meantime; see its message.",
    "complaint.gone": "That complaint no longer exists.",
    "complaint.resolve.title": "What did we change?",
    "complaint.resolve.submit": "Resolve",
    "complaint.resolve.label": "What did we change?",
    "complaint.resolve.hint": (
        "What is different now, for this customer and the next one? "
        "Whoever logged the complaint will hear it."
    ),
    "complaint.resolved_dm": "The complaint you logged from *{customer}* was resolved by {resolver}.",
    "complaint.resolved_dm_credited": (
        "A complaint you were credited on (*{customer}*) was resolved by {resolver}."
    ),
    "complaint.resolved_dm_text": "A complaint from {customer} was resolved: here is what we changed.",
    "complaint.nudge": (
        "Now tell {customer} what changed because they spoke up: hearing back is what turns "
        "a complaint into trust."
    ),
    "complaint.nudge_credited": (
        "If you're in touch with the customer, tell them what changed because they spoke up."
    ),
    "complaint.channel_error_dm": (
        "I couldn't post a complaint in <#{channel}> ({error}). Invite me there with "
        "`/invite @Impact`, then save `/impact settings` again to post the complaints waiting. "
        "Until then they wait in my App Home. I won't repeat this message for this channel."
    ),
    "settings.improvement_channel": "Improvement channel for complaints",
    "settings.improvement_hint": (
        "Complaints are posted there with I'll own this and Resolved. Invite me to the channel."
    ),
    "settings.improvement_saved": "Complaints go to <#{channel}>.",
    "settings.complaints_waiting": (
        "Complaints waiting for that channel: {count}. I'm posting them there now."
    ),
    "settings.complaints_refused": (
        "I couldn't post the complaints waiting in <#{channel}> ({error}). Invite me there with "
        "`/invite @Impact` and save the settings again; until then they wait in my App Home."
    ),
    "error.improvement_channel": "Choose a channel, not a direct message.",
    # Insights and references
    "insights.title": "Customer voice insights",
    "insights.home.title": "This week's insights",
    "insights.summary": (
        "*This week:* stories logged *{logged}* · featured *{featured}* · reactions *{reactions}*\n"
        "*Last {weeks} weeks:* stories logged *{logged_total}* · featured *{featured_total}* · "
        "reactions *{reactions_total}*"
    ),
    "insights.chart.title": "*Stories logged per week, by kind*",
    "insights.chart.caption": (
        "One bar per week since {first}, this week on the right; the number is the total."
    ),
    "insights.ranked": "{rank}. {name} · {count}",
    "insights.more": "…and {count} more.",
    "insights.anonymous": "A customer",
    "insights.credited.title": "*Colleagues credited most*",
    "insights.credited.empty": "Nobody was credited lately. Mention colleagues when you log a story.",
    "insights.customers.title": "*Customers mentioned most*",
    "insights.customers.empty": "No customer was named lately.",
    "insights.customers.anonymous": "Plus {count} from customers who asked to stay anonymous.",
    "insights.complaints.title": "*Open complaints: {count}*",
    "insights.complaints.line": "• {customer}: open for {age}",
    "insights.median": "Median time from complaint to resolved (last {weeks} weeks): *{duration}*",
    "insights.median.none": "No complaint was resolved in the last {weeks} weeks.",
    "insights.quiet.title": "*Scheduled channels without a fresh story in four weeks*",
    "insights.quiet.featured": "• {channel}: last story featured {date}",
    "insights.quiet.never": "• {channel}: no story featured yet",
    "insights.quiet.none": "Every channel with a schedule had a fresh story in the last four weeks.",
    "insights.quiet.hint": "Ask the team there for a customer voice, or post one with `/impact story`.",
    "insights.duration.under_hour": "less than an hour",
    "insights.duration.hour": "1 hour",
    "insights.duration.hours": "{count} hours",
    "insights.duration.days": "{count} days",
    "insights.references.title": "Customers who agreed to be quoted publicly, referrals first:",
    "insights.references.title_query": "Public references matching “{query}”, referrals first:",
    "insights.references.referral": "Referral",
    "insights.references.contact": "— {contact}",
    "insights.references.logged_by": "Logged by {author}: ask them for an introduction",
    "insights.references.more": "Showing the first {count}. Add a word or tag to narrow it down.",
    "insights.references.empty": (
        "No customer has agreed to be quoted publicly yet. When one offers to recommend us, "
        "log it with `/impact`: kind *Referral*, consent *Public*."
    ),
    "insights.references.empty_query": (
        "No public reference matches “{query}”. Try other words, or when a customer offers to "
        "recommend us, log it with `/impact`: kind *Referral*, consent *Public*."
    ),
}

# German and Dutch live in gettext catalogs (bot/locale/<lang>/LC_MESSAGES/impact.po) whose
# msgids are EN's ids; `python -m bot.i18n sync` adds new ids there. Read once, at start.
CATALOG: dict[str, dict[str, str]] = {"en": EN, **{lang: load_translations(lang) for lang in TRANSLATED}}
# Slack locales that pick a language of their own (de-DE, de-AT, de-CH; nl-NL, nl-BE). Any other
# locale, en-US included (Slack's default for everyone who never chose), leaves it to the workspace.
LOCALE_LANGUAGES = frozenset(TRANSLATED)


def t(message_id: str, language: str = "en", /, **params: Any) -> str:
    """The text for `message_id` in `language`, filled with params; English where the
    translation is empty (and where a broken translation cannot be filled, logged)."""
    template = CATALOG.get(language, {}).get(message_id) or EN[message_id]
    if not params:
        return template
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError) as e:
        log.error("the %s text of %s cannot be filled (%r); using English", language, message_id, e)
        return EN[message_id].format(**params)


def language_for_locale(locale: str | None, default: str = "en") -> str:
    """'de-AT' -> 'de', 'nl-BE' -> 'nl'; any other locale (or none) gives `default`."""
    if locale:
        code = locale.replace("_", "-").split("-")[0].lower()
        if code in LOCALE_LANGUAGES:
            return code
    return default
