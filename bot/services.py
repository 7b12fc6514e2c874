"""The composition root: every object that lives as long as the process, built once, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk.oauth.installation_store import InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

from bot.clients import Clients
from bot.deadlines import AckDeadlines
from bot.languages import UserLanguages
from bot.managers import ManagerDirectory
from bot.pacing import Pacer
from bot.posting import Poster
from bot.scheduler import SlotScheduler
from bot.settings import Settings
from bot.slack_client import ResponseUrlPool
from storage.db import Database
from storage.queries import WorkspaceCache

OAUTH_STATE_SECONDS = 600  # how long an install link stays valid


@dataclass(frozen=True)
class Services:
    """What listeners, the scheduler and the command line share; handed to each of them."""

    settings: Settings
    db: Database
    managers: ManagerDirectory
    clients: Clients
    poster: Poster
    pacer: Pacer  # every workspace's messages at its rate, shared by all processes
    languages: UserLanguages  # each user's language: Slack locale, cached
    scheduler: SlotScheduler | None
    workspaces: WorkspaceCache  # each team's workspace row id, and briefly its language
    response_urls: ResponseUrlPool  # keep-alive connections for every response_url post
    installations: InstallationStore | None = None
    oauth_states: OAuthStateStore | None = None
    ack_deadlines: AckDeadlines = field(default_factory=AckDeadlines)  # acks empty what runs late


def build_services(settings: Settings, db: Database, *, with_scheduler: bool = True) -> Services:
    """Build the process's services; the scheduler is built but not started (`runtime` starts it)."""
    installations: InstallationStore | None = None
    states: OAuthStateStore | None = None
    if settings.oauth_mode:
        from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
        from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

        # Their tables are created by migration 0003, like every other table.
        installations = SQLAlchemyInstallationStore(client_id=settings.client_id or "", engine=db.engine)
        states = SQLAlchemyOAuthStateStore(expiration_seconds=OAUTH_STATE_SECONDS, engine=db.engine)
    pacer = Pacer(db, settings.posts_per_minute, settings.post_burst)
    # Every 429 any call meets holds that workspace's pace in every process (bot.pacing).
    clients = Clients(settings, installations, on_rate_limited=pacer.rate_limited)
    managers = ManagerDirectory(settings.managers, settings.manager_group)
    workspaces = WorkspaceCache(db)
    languages = UserLanguages(settings, db, workspaces=workspaces)
    # One users.info answer serves both: whether the person is an admin, and their language.
    managers.on_user_info, languages.on_user_info = languages.remember, managers.remember
    poster = Poster(settings, db, managers, clients.for_team, pacer, languages=languages)
    scheduler = SlotScheduler(settings, db, poster) if with_scheduler else None
    return Services(
        settings,
        db,
        managers,
        clients,
        poster,
        pacer,
        languages,
        scheduler,
        workspaces,
        ResponseUrlPool(),
        installations,
        states,
        AckDeadlines(),
    )
