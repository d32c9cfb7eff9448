"""Twitch as a plug-in (see ../registry.py): its tokens and cursor live for the run."""

from __future__ import annotations

from typing import Any

import trio

from supervision import Backoff, ChildSpec, Restart

from ...chat import ChatEvent
from ..registry import Emit, OAuthFlow, Plugin, Surroundings
from .auth import TwitchAuth
from .monitor import TwitchCursor, TwitchMonitor
from .settings import TwitchConfig


class TwitchRuntime:
    def __init__(self, config: TwitchConfig, around: Surroundings, emit: Emit) -> None:
        self.config = config
        # The tokens are shared by the monitor and the control surface's
        # consent pages, and outlive the monitor's restarts; so does the
        # memory of the messages seen (a reconnect's overlap, Twitch's resends).
        self.auth = TwitchAuth(config.auth_settings(around), emit=emit)
        self.cursor = TwitchCursor()

    @property
    def oauth(self) -> OAuthFlow | None:
        # The consent page needs a confidential app (a secret); without one,
        # the device code on the dashboard is the way in.
        return self.auth if self.config.client_secret else None

    def child(self, chat_send: trio.MemorySendChannel[ChatEvent], emit: Emit, backoff: Backoff) -> ChildSpec:
        monitor = TwitchMonitor(self.config.settings(), self.auth, chat_send, self.cursor, emit=emit)
        return ChildSpec(id="twitch", target=monitor.run, restart=Restart.PERMANENT, backoff=backoff, shutdown=3.0)

    def status(self) -> dict[str, Any]:
        auth, cursor = self.auth, self.cursor
        code = cursor.login
        return {
            **auth.status_fields(),
            "login_code": None if code is None else {"url": code.verification_uri, "code": code.user_code},
            "refreshes": auth.refreshes,
            "channel": self.config.channel,
            "reader": cursor.reader,
            "connects": cursor.connects,
            "handoffs": cursor.handoffs,
            "live": cursor.live_since is not None,
            "subscribed": list(cursor.subscribed),
            "revoked": dict(cursor.revoked),
            "emitted": cursor.emitted,
            "duplicates": cursor.duplicates,
            "stale": cursor.stale,
            "skipped": cursor.skipped,
        }


PLUGIN = Plugin(
    name="twitch",
    config=TwitchConfig,
    env={"TWITCH_CLIENT_ID": "client_id", "TWITCH_CLIENT_SECRET": "client_secret"},
    open=TwitchRuntime,
)
