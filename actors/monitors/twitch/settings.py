"""`[monitors.twitch]`: the Twitch monitor's settings, as the config file says them."""

from __future__ import annotations

from typing import Any

import attrs

from ...i18n import says
from ...secret import Secret
from ...validators import ValueProblem, at_least, greater_than, http_url, optional_http_url, within
from ..registry import Problem, Surroundings
from .auth import TwitchAuthSettings
from .monitor import TwitchSettings


def _websocket_url(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.startswith(("ws://", "wss://")):
        raise ValueProblem(attribute.name, says("config.websocket_url", value=repr(value)))


def _channel(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    # A login is 4-25 letters, digits and underscores; an id is digits. A URL
    # or "#name" is a common first try: say what is wanted instead.
    if value and not (value.replace("_", "").isalnum() and value.isascii()):
        raise ValueProblem(attribute.name, says("config.twitch_channel", value=repr(value)))


@attrs.frozen
class TwitchConfig:
    """The Twitch monitor ([monitors.twitch]): EventSub WebSocket, a user token from the device login."""

    enabled: bool = False
    channel: str = attrs.field(default="", validator=_channel)  # the channel's login (twitch.tv/<login>), or its id
    client_id: Secret = attrs.field(factory=Secret)  # or TWITCH_CLIENT_ID: the app's, from dev.twitch.tv
    # Only for an app registered as "Confidential" that logs in through the
    # control surface's /twitch/auth instead of the device code (or TWITCH_CLIENT_SECRET).
    client_secret: Secret = attrs.field(factory=Secret)
    # Empty: http://localhost:<control.port>/twitch/callback (register it with the app).
    redirect_uri: str = attrs.field(default="", validator=optional_http_url)
    token_file: str = ".twitch-token.json"  # relative to the config file; written 0600
    shared_chat: bool = False  # also the other channels' messages during a shared chat session
    auth_base_url: str = attrs.field(default="https://id.twitch.tv/oauth2", validator=http_url)
    helix_base_url: str = attrs.field(default="https://api.twitch.tv/helix", validator=http_url)
    eventsub_url: str = attrs.field(default="wss://eventsub.wss.twitch.tv/ws", validator=_websocket_url)
    connect_timeout: float = attrs.field(default=10.0, validator=greater_than(0))
    request_timeout: float = attrs.field(default=15.0, validator=greater_than(0))
    # At most an hour of a token's four: a larger margin would refresh on every call.
    refresh_margin: float = attrs.field(default=600.0, validator=within(0, 3600))
    validate_every: float = attrs.field(default=3600.0, validator=greater_than(0))  # Twitch asks for hourly
    max_retries: int = attrs.field(default=10, validator=at_least(0))
    retry_interval: float = attrs.field(default=60.0, validator=at_least(0))

    def problems(self, around: Surroundings) -> list[Problem]:
        if not self.enabled:
            return []
        problems: list[Problem] = []
        if not self.channel:
            problems.append(("monitors.twitch.channel", says("config.twitch_channel_needed")))
        if not self.client_id:
            problems.append(("monitors.twitch.client_id", says("config.twitch_client_id")))
        if self.client_secret and not around.control_enabled:
            problems.append(("control.enabled", says("config.twitch_needs_control")))
        return problems

    def secrets(self) -> list[Secret]:
        return [self.client_id, self.client_secret]

    def auth_settings(self, around: Surroundings) -> TwitchAuthSettings:
        page = around.authorize_page("twitch")
        return TwitchAuthSettings(
            client_id=self.client_id.reveal(),
            client_secret=self.client_secret.reveal(),
            token_file=around.base_dir / self.token_file,
            auth_base_url=self.auth_base_url.rstrip("/"),
            redirect_uri=self.redirect_uri or around.control_url("/twitch/callback"),
            authorize_page=page,
            refresh_margin=self.refresh_margin,
            validate_every=self.validate_every,
            request_timeout=self.request_timeout,
        )

    def settings(self) -> TwitchSettings:
        return TwitchSettings(
            channel=self.channel,
            helix_base_url=self.helix_base_url.rstrip("/"),
            eventsub_url=self.eventsub_url,
            shared_chat=self.shared_chat,
            connect_timeout=self.connect_timeout,
            request_timeout=self.request_timeout,
            max_retries=self.max_retries,
            retry_interval=self.retry_interval,
        )
