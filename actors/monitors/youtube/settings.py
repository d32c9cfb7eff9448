"""`[monitors.youtube]`: the YouTube monitor's settings, as the config file says them."""

from __future__ import annotations

import attrs

from ...i18n import says
from ...secret import Secret
from ...validators import at_least, greater_than, http_url
from ..registry import Problem, Surroundings
from .monitor import YouTubeSettings


@attrs.frozen
class YouTubeConfig:
    enabled: bool = False
    api_key: Secret = attrs.field(factory=Secret)
    video_id: str = ""  # the live video; or
    channel_id: str = ""  # the channel, whose live video is searched for
    api_base_url: str = attrs.field(default="https://www.googleapis.com/youtube/v3", validator=http_url)
    daily_quota: int = attrs.field(default=10_000, validator=at_least(100))
    stream_hours: float = attrs.field(default=8.0, validator=greater_than(0))
    skip_backlog: bool = True
    live_check_every: float = attrs.field(default=120.0, validator=at_least(10))
    search_every: float = attrs.field(default=600.0, validator=at_least(60))
    request_timeout: float = attrs.field(default=30.0, validator=greater_than(0))
    use_stream: bool = False
    max_retries: int = attrs.field(default=10, validator=at_least(0))
    retry_interval: float = attrs.field(default=60.0, validator=at_least(0))

    def problems(self, around: Surroundings) -> list[Problem]:
        if not self.enabled:
            return []
        problems: list[Problem] = []
        if not self.api_key:
            problems.append(("monitors.youtube.api_key", says("config.youtube_api_key")))
        if not (self.video_id or self.channel_id):
            problems.append(("monitors.youtube", says("config.youtube_video")))
        return problems

    def secrets(self) -> list[Secret]:
        return [self.api_key]

    def settings(self) -> YouTubeSettings:
        return YouTubeSettings(
            api_key=self.api_key.reveal(),
            video_id=self.video_id,
            channel_id=self.channel_id,
            api_base_url=self.api_base_url.rstrip("/"),
            daily_quota=self.daily_quota,
            stream_hours=self.stream_hours,
            skip_backlog=self.skip_backlog,
            live_check_every=self.live_check_every,
            search_every=self.search_every,
            request_timeout=self.request_timeout,
            use_stream=self.use_stream,
            max_retries=self.max_retries,
            retry_interval=self.retry_interval,
        )
