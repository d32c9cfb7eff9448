"""YouTube as a plug-in (see ../registry.py): its cursor lives for the run."""

from __future__ import annotations

from typing import Any

import trio

from supervision import Backoff, ChildSpec, Restart

from ...chat import ChatEvent
from ..registry import Emit, Plugin, Surroundings
from .monitor import YouTubeCursor, YouTubeMonitor
from .settings import YouTubeConfig


class YouTubeRuntime:
    oauth = None  # an API key, no consent to ask for

    def __init__(self, config: YouTubeConfig, around: Surroundings, emit: Emit) -> None:
        self.config = config
        # Where the chat was read up to, the quota spent, the live video:
        # kept across the monitor's restarts so none of it is paid twice.
        self.cursor = YouTubeCursor()

    def child(self, chat_send: trio.MemorySendChannel[ChatEvent], emit: Emit, backoff: Backoff) -> ChildSpec:
        monitor = YouTubeMonitor(self.config.settings(), chat_send, self.cursor, emit=emit)
        return ChildSpec(
            id="youtube",
            target=monitor.run,
            restart=Restart.PERMANENT,  # a stream ends, the monitor waits for the next
            backoff=backoff,
            shutdown=2.0,
        )

    def status(self) -> dict[str, Any]:
        return self.cursor.snapshot()


PLUGIN = Plugin(
    name="youtube",
    config=YouTubeConfig,
    env={"YOUTUBE_API_KEY": "api_key"},
    open=YouTubeRuntime,
)
