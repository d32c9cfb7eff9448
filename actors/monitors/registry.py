"""Every platform the service can read, in one table.

A platform is a plug-in: its folder under `actors/monitors/` holds its pure
API, its socket or poller, its monitor, its settings (`[monitors.<name>]`)
and a `plugin.py` that says how to run it. This table is the one place that
lists them. The config loader reads it for the `[monitors.*]` sections, the
per-platform prompt templates and the secrets the environment may give; the
service reads it to build each monitor's actor and the state that outlives
the actor's restarts (a cursor, a token file); the control surface reads it
for `/status` and for the OAuth pages at `/<name>/auth` and `/<name>/callback`.
Adding a platform is its folder, its fake, its tests and one line here.

Why plug-ins need both a config class and a runtime: the config is read
before anything runs (and must fail with a line naming the setting), while
the runtime exists once per run, so a restarted monitor keeps its cursor and
its tokens, and the control surface can show them while the actor is down.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs
import httpx
import trio

from supervision import Backoff, ChildSpec

from ..chat import ChatEvent
from ..i18n import Said
from ..secret import Secret

Emit = Callable[..., None]
Problem = tuple[str, Said]  # (the setting's path, what is wrong with it)


@attrs.frozen
class Surroundings:
    """What a platform's settings may depend on beyond their own section."""

    control_enabled: bool
    control_host: str
    control_port: int
    control_has_token: bool
    base_dir: Path  # the config file's folder: relative paths start here

    def control_url(self, path: str) -> str:
        """An address on the control surface, as a browser on this machine opens it."""
        host = self.control_host
        if host in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::"):
            host = "localhost"
        elif ":" in host:
            host = f"[{host}]"  # an IPv6 literal in a URL
        return f"http://{host}:{self.control_port}{path}"

    def authorize_page(self, platform: str) -> str:
        """The platform's consent page on the control surface, for a status line
        (with a placeholder for the control token when one is set)."""
        page = self.control_url(f"/{platform}/auth")
        return page + "?token=<your control token>" if self.control_has_token else page


class PlatformConfig(Protocol):
    """A `[monitors.<name>]` section, as an attrs class the converter fills."""

    @property
    def enabled(self) -> bool: ...

    def problems(self, around: Surroundings) -> list[Problem]:
        """Mistakes only the whole config shows (a missing key, a needed control surface)."""
        ...

    def secrets(self) -> list[Secret]:
        """Every secret in the section, for redacting log lines."""
        ...


class OAuthFlow(Protocol):
    """An authorisation-code flow whose pages live on the control surface."""

    def begin(self) -> str:
        """A fresh `state` and the consent URL to send the browser to."""
        ...

    def take_state(self, state: str) -> bool:
        """True once for a state this flow issued and that has not expired."""
        ...

    async def exchange(self, client: httpx.AsyncClient, code: str, state: str) -> object:
        """Trade the code for tokens, and store them."""
        ...


class Runtime(Protocol):
    """One platform for one run: its lasting state, and how to start its actor."""

    @property
    def oauth(self) -> OAuthFlow | None:
        """Its consent flow, when it has one with pages on the control surface."""
        ...

    def child(self, chat_send: trio.MemorySendChannel[ChatEvent], emit: Emit, backoff: Backoff) -> ChildSpec:
        """The monitor's actor (its id is the plug-in's name)."""
        ...

    def status(self) -> dict[str, Any] | None:
        """Its box in `/status` and on the dashboard."""
        ...


@attrs.frozen
class Plugin:
    name: str  # the Platform value, [monitors.<name>], the actor's id, /<name>/auth
    config: type[PlatformConfig]
    # Secrets the environment may give instead of the file: variable -> setting.
    env: Mapping[str, str]
    open: Callable[[Any, Surroundings, Emit], Runtime]  # (its config, the surroundings, emit)


def _plugins() -> tuple[Plugin, ...]:
    from .chzzk.plugin import PLUGIN as CHZZK
    from .twitch.plugin import PLUGIN as TWITCH
    from .youtube.plugin import PLUGIN as YOUTUBE

    return (YOUTUBE, CHZZK, TWITCH)


PLATFORMS: tuple[Plugin, ...] = _plugins()
BY_NAME: Mapping[str, Plugin] = {p.name: p for p in PLATFORMS}
