"""`[monitors.chzzk]`: the Chzzk monitor's settings, as the config file says them."""

from __future__ import annotations

from typing import Any

import attrs

from ...i18n import says
from ...secret import Secret
from ...validators import ValueProblem, at_least, greater_than, http_url, optional_http_url
from ..registry import Problem, Surroundings
from .auth import ChzzkAuthSettings
from .monitor import ChzzkSettings


def _chzzk_events(instance: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    known = ("chat", "donation", "subscription")
    for name in value:
        if name not in known:
            raise ValueProblem(
                attribute.name, says("config.chzzk_event_unknown", name=repr(name), known=", ".join(known))
            )
    if not value:
        raise ValueProblem(attribute.name, says("config.chzzk_events_none"))


@attrs.frozen
class ChzzkConfig:
    """The Chzzk monitor ([monitors.chzzk]): the official Open API, OAuth2, one session socket."""

    enabled: bool = False
    client_id: Secret = attrs.field(factory=Secret)  # or CHZZK_CLIENT_ID
    client_secret: Secret = attrs.field(factory=Secret)  # or CHZZK_CLIENT_SECRET
    # Empty: http://localhost:<control.port>/chzzk/callback. It must equal the
    # app's registered "로그인 리디렉션 URL" exactly.
    redirect_uri: str = attrs.field(default="", validator=optional_http_url)
    token_file: str = ".chzzk-token.json"  # relative to the config file; written 0600
    # Accepted so configs from the previous version still load; the channel
    # is whichever account the streamer authorises.
    channel_id: str = ""
    events: tuple[str, ...] = attrs.field(default=("chat", "donation", "subscription"), validator=_chzzk_events)
    api_base_url: str = attrs.field(default="https://openapi.chzzk.naver.com", validator=http_url)
    auth_url: str = attrs.field(default="https://chzzk.naver.com/account-interlock", validator=http_url)
    connect_timeout: float = attrs.field(default=10.0, validator=greater_than(0))
    subscribe_timeout: float = attrs.field(default=10.0, validator=greater_than(0))
    request_timeout: float = attrs.field(default=15.0, validator=greater_than(0))
    refresh_margin: float = attrs.field(default=600.0, validator=at_least(0))
    max_retries: int = attrs.field(default=10, validator=at_least(0))
    retry_interval: float = attrs.field(default=60.0, validator=at_least(0))

    def problems(self, around: Surroundings) -> list[Problem]:
        if not self.enabled:
            return []
        problems: list[Problem] = []
        for name in ("client_id", "client_secret"):
            if not getattr(self, name):
                problems.append(
                    (f"monitors.chzzk.{name}", says("config.chzzk_credential", env=f"CHZZK_{name.upper()}"))
                )
        if not around.control_enabled:
            problems.append(("control.enabled", says("config.chzzk_needs_control")))
        return problems

    def secrets(self) -> list[Secret]:
        return [self.client_id, self.client_secret]

    def redirect_for(self, around: Surroundings) -> str:
        return self.redirect_uri or f"http://localhost:{around.control_port}/chzzk/callback"

    def auth_settings(self, around: Surroundings) -> ChzzkAuthSettings:
        page = around.authorize_page("chzzk")
        return ChzzkAuthSettings(
            client_id=self.client_id.reveal(),
            client_secret=self.client_secret.reveal(),
            token_file=around.base_dir / self.token_file,
            redirect_uri=self.redirect_for(around),
            authorize_page=page,
            api_base_url=self.api_base_url.rstrip("/"),
            auth_url=self.auth_url,
            refresh_margin=self.refresh_margin,
            request_timeout=self.request_timeout,
        )

    def settings(self) -> ChzzkSettings:
        return ChzzkSettings(
            api_base_url=self.api_base_url.rstrip("/"),
            events=self.events,
            connect_timeout=self.connect_timeout,
            subscribe_timeout=self.subscribe_timeout,
            request_timeout=self.request_timeout,
            max_retries=self.max_retries,
            retry_interval=self.retry_interval,
        )
