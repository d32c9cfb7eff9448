"""Chzzk as a plug-in (see ../registry.py): its tokens and cursor live for the run."""

from __future__ import annotations

from typing import Any

import trio

from supervision import Backoff, ChildSpec, Restart

from ...chat import ChatEvent
from ..registry import Emit, Plugin, Surroundings
from .auth import ChzzkAuth
from .monitor import ChzzkCursor, ChzzkMonitor
from .settings import ChzzkConfig


class ChzzkRuntime:
    def __init__(self, config: ChzzkConfig, around: Surroundings, emit: Emit) -> None:
        self.config = config
        # The tokens are shared by the monitor and the control surface's
        # consent pages, and outlive the monitor's restarts.
        self.auth = ChzzkAuth(config.auth_settings(around), emit=emit)
        self.oauth = self.auth
        self.cursor = ChzzkCursor()

    def child(self, chat_send: trio.MemorySendChannel[ChatEvent], emit: Emit, backoff: Backoff) -> ChildSpec:
        monitor = ChzzkMonitor(self.config.settings(), self.auth, chat_send, self.cursor, emit=emit)
        return ChildSpec(id="chzzk", target=monitor.run, restart=Restart.PERMANENT, backoff=backoff, shutdown=3.0)

    def status(self) -> dict[str, Any]:
        auth, cursor = self.auth, self.cursor
        return {
            **auth.status_fields(),
            "authorize_at": None if auth.has_token else auth.s.authorize_page,
            "refreshes": auth.refreshes,
            "connects": cursor.connects,
            "live": cursor.live_since is not None,
            "subscribed": list(cursor.subscribed),
            "refused": sorted(cursor.refused),
            "emitted": cursor.emitted,
            "duplicates": cursor.duplicates,
            "skipped": cursor.skipped,
        }


PLUGIN = Plugin(
    name="chzzk",
    config=ChzzkConfig,
    env={"CHZZK_CLIENT_ID": "client_id", "CHZZK_CLIENT_SECRET": "client_secret"},
    open=ChzzkRuntime,
)
