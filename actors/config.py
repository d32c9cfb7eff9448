"""Configuration: attrs classes, one strict cattrs converter, tomllib.

Every mistake becomes one line naming the file, the key path and the problem,
e.g. ``config.toml: monitors.youtube.max_retries: expected an integer, got
'ten'``. Unknown keys are errors, because a typo that passes silently means a
setting the streamer believes in but that does nothing.

Secrets may come from the environment (CONTROL_TOKEN, and each platform's:
YOUTUBE_API_KEY, CHZZK_CLIENT_ID, CHZZK_CLIENT_SECRET; the environment wins
over the file). They are held in `Secret`, whose repr and str are redacted,
so no log line, status or traceback can show them by accident.

Each platform's section, `[monitors.<name>]`, and its prompt overrides,
`[session.templates.<name>]`, come from the platform registry
(monitors/registry.py): the classes that hold them are made from it.

Each problem is a `Said` (config.* in actors/data/i18n/), so a ConfigError
reads in Korean or English: `str()` is English, `.text(language)` either;
the file name and the setting's path stay as they are in both.
"""

from __future__ import annotations

import datetime
import math
import os
import tomllib
import typing
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import cattrs
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn

from .chat import Platform
from .control.server import ControlSettings
from .i18n import DEFAULT, Said, says
from .monitors.common.retry import RetryRule
from .monitors.registry import PLATFORMS, Plugin, Problem, Surroundings
from .router.actor import RoutingSettings
from .router.filters import FilterSettings
from .router.priority import DEFAULT_RATES, Weights
from .router.similar import DEFAULT_THRESHOLD
from .secret import Secret
from .session.olv import OlvSettings
from .session.olv_protocol import Mode, Timing
from .session.prompt import (
    CROWD_PLACEHOLDERS,
    DEFAULT_CROWD_TEMPLATE,
    DEFAULT_DIGEST_INTRO,
    DEFAULT_TEMPLATES,
    KINDS,
    PromptTemplates,
    template_problem,
)
from .validators import ValueProblem, at_least, greater_than, one_of, within

ENV_SECRETS: Mapping[str, tuple[str, ...]] = {
    **{name: ("monitors", p.name, key) for p in PLATFORMS for name, key in p.env.items()},
    "CONTROL_TOKEN": ("control", "token"),
}


class ConfigError(Exception):
    """A configuration mistake: one line per problem, each "where: what";
    where is the file name and the setting's path (never translated), what
    is a Said. str() is the lines in English; `text(language)` in either."""

    def __init__(self, lines: Iterable[tuple[str, Said]]) -> None:
        self.lines: tuple[tuple[str, Said], ...] = tuple(lines)
        super().__init__(self.text(DEFAULT))

    def text(self, language: str = DEFAULT) -> str:
        return "\n".join(f"{where}: {said.text(language)}" for where, said in self.lines)


class WrongType(TypeError):
    """A value of the wrong type (the converter's hooks); str() is English."""

    def __init__(self, said: Said) -> None:
        super().__init__(str(said))
        self.said = said


# ---- the schema -------------------------------------------------------------


@attrs.frozen
class ServiceConfig:
    # what a streamer reads (pages, answers): "auto" is the browser's or the system's language
    language: str = attrs.field(default="auto", validator=one_of("auto", "ko", "en"))
    status_interval: float = attrs.field(default=10.0, validator=greater_than(0))
    intensity: int = attrs.field(default=10, validator=at_least(0))
    period: float = attrs.field(default=60.0, validator=greater_than(0))


@attrs.frozen
class RouterConfig:
    capacity: int = attrs.field(default=20, validator=at_least(1))
    paid_capacity: int = attrs.field(default=50, validator=at_least(0))
    inbox_size: int = attrs.field(default=256, validator=at_least(1))
    dedupe_ids: int = attrs.field(default=10_000, validator=at_least(1))
    max_graphemes: int = attrs.field(default=200, validator=at_least(2))
    max_age: float = attrs.field(default=60.0, validator=greater_than(0))
    paid_max_age: float = attrs.field(default=600.0, validator=greater_than(0))
    batch: int = attrs.field(default=1, validator=at_least(1))
    answered_window: float = attrs.field(default=300.0, validator=at_least(0))  # 0 = off
    similarity: float = attrs.field(default=DEFAULT_THRESHOLD, validator=within(0.01, 1.0))  # 1.0: only exact
    crowds: bool = True
    settle: float = attrs.field(default=2.0, validator=within(0, 30))
    vtuber_names: tuple[str, ...] = ()
    rates: dict[str, float] = attrs.field(factory=dict)  # USD per unit, over the built-in table
    filters: FilterSettings = attrs.field(factory=FilterSettings)
    weights: Weights = attrs.field(factory=Weights)

    def __attrs_post_init__(self) -> None:
        if self.settle >= self.max_age:
            raise ValueProblem("settle", says("config.settle_before_max_age", max_age=f"{self.max_age:g}"))
        for code, rate in self.rates.items():
            if not (isinstance(rate, int | float) and rate > 0 and math.isfinite(rate)):
                raise ValueProblem("rates", says("config.rate_positive", code=code, value=repr(rate)))

    def routing(self) -> RoutingSettings:
        rates = dict(DEFAULT_RATES) | {code.upper(): Decimal(str(rate)) for code, rate in self.rates.items()}
        return RoutingSettings(
            filters=self.filters,
            weights=self.weights,
            rates=rates,
            names=self.vtuber_names,
            capacity=self.capacity,
            paid_capacity=self.paid_capacity,
            max_age=self.max_age,
            paid_max_age=self.paid_max_age,
            max_graphemes=self.max_graphemes,
            dedupe_ids=self.dedupe_ids,
            answered_window=self.answered_window,
            similarity=self.similarity,
            crowds=self.crowds,
            settle=self.settle,
        )


@attrs.frozen
class ArchiveConfig:
    path: str = ""  # empty: no archive; else JSON Lines, appended, relative to the config file


def _template(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    said = template_problem(value)
    if said is not None:
        raise ValueProblem(attribute.name, said)


def _crowd_template(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    said = template_problem(value, CROWD_PLACEHOLDERS)
    if said is not None:
        raise ValueProblem(attribute.name, said)


def _templates_by_kind(instance: Any, attribute: attrs.Attribute[Any], value: dict[str, str]) -> None:
    for kind, template in value.items():
        if kind not in KINDS:
            raise ValueProblem(f"{attribute.name}.{kind}", says("config.template_kind", kinds=", ".join(KINDS)))
        said = template_problem(template)
        if said is not None:
            raise ValueProblem(f"{attribute.name}.{kind}", said)


class _Templates:
    """TemplatesConfig's behaviour; its fields are made below (one table of
    per-kind overrides per platform in the registry)."""

    def prompt_templates(self) -> PromptTemplates:
        fields: Any = self
        return PromptTemplates(
            templates={kind: getattr(fields, kind) for kind in KINDS},
            overrides={Platform(p.name): dict(getattr(fields, p.name)) for p in PLATFORMS},
            digest_intro=fields.digest_intro,
            crowd=fields.crowd,
        )


def _with_platforms(name: str, fields: dict[str, Any], per_platform: Callable[[Plugin], Any], base: type) -> type:
    """A frozen attrs class with `fields` and one more per registered platform,
    named after it: `[monitors.twitch]` and `[session.templates.twitch]`
    exist as soon as the registry lists Twitch."""
    every = {**fields, **{p.name: per_platform(p) for p in PLATFORMS}}
    return attrs.make_class(name, every, bases=(base,), frozen=True, slots=True)


if TYPE_CHECKING:

    class TemplatesConfig(_Templates):
        """How each kind of message is put to the VTuber; see actors/session/prompt.py."""

        chat: str
        donation: str
        sticker: str
        membership: str
        gift: str
        digest_intro: str
        crowd: str

        def __init__(self, **fields: Any) -> None: ...
        def __getattr__(self, platform: str) -> dict[str, str]: ...

else:
    TemplatesConfig = _with_platforms(
        "TemplatesConfig",
        {
            "chat": attrs.field(type=str, default=DEFAULT_TEMPLATES["chat"], validator=_template),
            "donation": attrs.field(type=str, default=DEFAULT_TEMPLATES["donation"], validator=_template),
            "sticker": attrs.field(type=str, default=DEFAULT_TEMPLATES["sticker"], validator=_template),
            "membership": attrs.field(type=str, default=DEFAULT_TEMPLATES["membership"], validator=_template),
            "gift": attrs.field(type=str, default=DEFAULT_TEMPLATES["gift"], validator=_template),
            "digest_intro": attrs.field(type=str, default=DEFAULT_DIGEST_INTRO),
            # a merged crowd's line
            "crowd": attrs.field(type=str, default=DEFAULT_CROWD_TEMPLATE, validator=_crowd_template),
        },
        # per-kind overrides: [session.templates.<platform>]
        lambda plugin: attrs.field(type=dict[str, str], factory=dict, validator=_templates_by_kind),
        _Templates,
    )


def _websocket_url(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.startswith(("ws://", "wss://")):
        raise ValueProblem(attribute.name, says("config.websocket_url", value=repr(value)))


@attrs.frozen
class OlvConfig:
    """Open-LLM-VTuber ([session.olv]); used when session.kind = "olv"."""

    url: str = attrs.field(default="ws://127.0.0.1:12393/client-ws", validator=_websocket_url)
    mode: str = attrs.field(default="client-ws", validator=one_of(*(m.value for m in Mode)))
    start_timeout: float = attrs.field(default=5.0, validator=greater_than(0))
    llm_budget: float = attrs.field(default=60.0, validator=greater_than(0))
    turn_margin: float = attrs.field(default=10.0, validator=at_least(0))
    resend_every: float = attrs.field(default=1.5, validator=greater_than(0))
    watchdog_margin: float = attrs.field(default=8.0, validator=at_least(0))
    connect_timeout: float = attrs.field(default=10.0, validator=greater_than(0))
    heartbeat_every: float = attrs.field(default=20.0, validator=greater_than(0))
    silence_timeout: float = attrs.field(default=65.0, validator=greater_than(0))
    max_message_mib: int = attrs.field(default=32, validator=at_least(16))
    new_history_every: int = attrs.field(default=0, validator=at_least(0))
    idle_speak_after: float = attrs.field(default=0.0, validator=at_least(0))
    # The common retry rule (monitors/common/retry.py): reconnects inside the session,
    # the first after about a second, doubling up to retry_interval; after
    # max_retries failed retries in one outage the supervisor's backoff takes over.
    # OLV runs on the streamer's own machine: a connection refused there costs
    # nothing, so the ceiling is short (measured against a real OLV 1.2.1 down
    # for 8.5 s: back 4.8 s after it with 30 s, within 2.7 s with 5 s).
    max_retries: int = attrs.field(default=10, validator=at_least(0))
    retry_interval: float = attrs.field(default=5.0, validator=greater_than(0))

    def __attrs_post_init__(self) -> None:
        if self.silence_timeout <= self.heartbeat_every:
            said = says(
                "config.silence_after_heartbeat",
                heartbeat=f"{self.heartbeat_every:g}",
                value=f"{self.silence_timeout:g}",
            )
            raise ValueProblem("silence_timeout", said)

    def settings(self, batch: int, stop_grace: float | None = None) -> OlvSettings:
        return OlvSettings(
            url=self.url,
            mode=Mode(self.mode),
            timing=Timing(
                start_timeout=self.start_timeout,
                llm_budget=self.llm_budget,
                turn_margin=self.turn_margin,
                resend_every=self.resend_every,
                watchdog_margin=self.watchdog_margin,
            ),
            connect_timeout=self.connect_timeout,
            heartbeat_every=self.heartbeat_every,
            silence_timeout=self.silence_timeout,
            max_message_size=self.max_message_mib * 2**20,
            new_history_every=self.new_history_every,
            idle_speak_after=self.idle_speak_after,
            batch=batch,
            retry=RetryRule(max_retries=self.max_retries, retry_interval=self.retry_interval),
            stop_grace=stop_grace,
        )


@attrs.frozen
class SessionConfig:
    kind: str = attrs.field(default="console", validator=one_of("console", "olv"))
    speaking_time: float = attrs.field(default=3.0, validator=at_least(0))  # console
    turn_grace: float = attrs.field(default=10.0, validator=at_least(0))
    olv: OlvConfig = attrs.field(factory=OlvConfig)
    templates: TemplatesConfig = attrs.field(factory=TemplatesConfig)


@attrs.frozen
class BackoffConfig:
    min_delay: float = attrs.field(default=2.0, validator=greater_than(0))
    max_delay: float = attrs.field(default=300.0, validator=greater_than(0))
    multiplier: float = attrs.field(default=2.0, validator=at_least(1))
    jitter: float = attrs.field(default=0.2, validator=within(0, 1))
    reset_after: float = attrs.field(default=120.0, validator=greater_than(0))
    max_failures: int | None = attrs.field(default=None, validator=at_least(1))

    def __attrs_post_init__(self) -> None:
        if self.max_delay < self.min_delay:
            said = says("config.max_delay_after_min", min_delay=f"{self.min_delay:g}", value=f"{self.max_delay:g}")
            raise ValueProblem("max_delay", said)


def _replay_speed(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:  # NaN fails this too; inf is allowed and means no pacing at all
        raise ValueProblem(attribute.name, says("config.replay_speed", value=repr(value)))


@attrs.frozen
class ReplayConfig:
    enabled: bool = True
    path: str = ""  # empty: the demo chat bundled with the package
    speed: float = attrs.field(default=1.0, validator=_replay_speed)  # inf: as fast as the router takes it
    ends_run: bool = True  # the service stops once the replay is done and drained
    max_retries: int = attrs.field(default=10, validator=at_least(0))
    retry_interval: float = attrs.field(default=60.0, validator=at_least(0))


class _Monitors:
    """MonitorsConfig's behaviour; its fields are made below (one section per
    platform in the registry)."""

    def platforms(self) -> list[tuple[str, Any]]:
        """(name, section) of every registered platform, in the registry's order."""
        return [(p.name, getattr(self, p.name)) for p in PLATFORMS]

    def enabled(self) -> list[str]:
        """The names of the platforms switched on."""
        return [name for name, section in self.platforms() if section.enabled]


if TYPE_CHECKING:

    class MonitorsConfig(_Monitors):
        intensity: int
        period: float
        backoff: BackoffConfig
        replay: ReplayConfig

        def __init__(self, **fields: Any) -> None: ...
        def __getattr__(self, platform: str) -> Any: ...

else:
    MonitorsConfig = _with_platforms(
        "MonitorsConfig",
        {
            "intensity": attrs.field(type=int, default=20, validator=at_least(0)),
            "period": attrs.field(type=float, default=60.0, validator=greater_than(0)),
            "backoff": attrs.field(type=BackoffConfig, factory=BackoffConfig),
            "replay": attrs.field(type=ReplayConfig, factory=ReplayConfig),
        },
        lambda plugin: attrs.field(type=plugin.config, factory=plugin.config),
        _Monitors,
    )


@attrs.frozen
class ControlConfig:
    """The control surface: HTTP + WebSocket API and the dashboard ([control])."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = attrs.field(default=12394, validator=within(0, 65535))
    token: Secret = attrs.field(factory=Secret)  # or CONTROL_TOKEN; required beyond loopback
    allowed_origins: tuple[str, ...] = ()  # empty: the dashboard's own address
    push_every: float = attrs.field(default=1.0, validator=greater_than(0))

    def __attrs_post_init__(self) -> None:
        if self.port == 12393:
            raise ValueProblem("port", says("config.port_is_olv"))

    def settings(self) -> ControlSettings:
        return ControlSettings(
            host=self.host,
            port=self.port,
            token=self.token.reveal(),
            allowed_origins=self.allowed_origins,
            push_every=self.push_every,
        )


@attrs.frozen
class Config:
    service: ServiceConfig = ServiceConfig()
    router: RouterConfig = RouterConfig()
    session: SessionConfig = SessionConfig()
    monitors: MonitorsConfig = attrs.field(factory=MonitorsConfig)
    archive: ArchiveConfig = ArchiveConfig()
    control: ControlConfig = attrs.field(factory=ControlConfig)
    # Where the file was; relative paths inside it are relative to its folder.
    base_dir: Path = attrs.field(default=Path("."), metadata={"toml": False})


def secret_values(config: Config) -> list[str]:
    """Every secret in a config, revealed: for redacting log lines, where an
    error text (an URL with ?key=..., say) could carry one."""
    secrets = [secret for _, section in config.monitors.platforms() for secret in section.secrets()]
    return [s.reveal() for s in (*secrets, config.control.token) if s]


# ---- the converter ------------------------------------------------------------


_TYPE_NAMES = {
    bool: "config.type_boolean",
    int: "config.type_integer",
    float: "config.type_number",
    str: "config.type_string",
    list: "config.type_list",
    dict: "config.type_dict",
    datetime.datetime: "config.type_datetime",
    datetime.date: "config.type_date",
    datetime.time: "config.type_time",
}


def _type_name(value: object) -> Said:
    key = _TYPE_NAMES.get(type(value))
    return says(key) if key else says("config.type_other", name=type(value).__name__)


def _shown(value: object) -> str | Said:
    """A wrong value as the error shows it: a scalar itself, anything else by its type."""
    return repr(value) if isinstance(value, str | int | float | bool) else _type_name(value)


def _wrong(key: str, got: str | Said) -> WrongType:
    """'expected ..., got <got>', `key` one of config.expected_*."""
    return WrongType(says(key, got=got))


def _strict(key: str, accept: Callable[[object], bool], convert: Callable[[Any], Any]) -> Any:
    def hook(value: object, _type: object) -> Any:
        if not accept(value):
            raise _wrong(key, _shown(value))
        return convert(value)

    return hook


def _check_weights(value: Mapping[str, Any]) -> None:
    """Weights' own rule (a finite number >= 0), checked before it runs so
    the mistake names its key and reads in the streamer's language."""
    names = {field.name for field in attrs.fields(Weights)}
    problems = [
        ValueProblem(name, says("config.weight", value=repr(v)))
        for name, v in value.items()
        if name in names
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and not (math.isfinite(v) and v >= 0)
    ]
    if problems:
        raise ExceptionGroup("weights", problems)


_PRECHECKS: Mapping[type, Callable[[Mapping[str, Any]], None]] = {Weights: _check_weights}


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    # cattrs would happily turn "ten" into an error but 3.7 into 3 and "no"
    # into True; a config file deserves exact types.
    converter.register_structure_hook(
        int, _strict("config.expected_integer", lambda v: isinstance(v, int) and not isinstance(v, bool), int)
    )
    converter.register_structure_hook(
        float,
        _strict("config.expected_number", lambda v: isinstance(v, int | float) and not isinstance(v, bool), float),
    )
    converter.register_structure_hook(bool, _strict("config.expected_boolean", lambda v: isinstance(v, bool), bool))
    converter.register_structure_hook(str, _strict("config.expected_string", lambda v: isinstance(v, str), str))

    def secret_hook(value: object, _type: object) -> Secret:
        if not isinstance(value, str):  # never echo it: it may be the secret itself
            raise _wrong("config.expected_string", _type_name(value))
        return Secret(value)

    converter.register_structure_hook(Secret, secret_hook)

    # A string where a list belongs would be taken letter by letter
    # (`blocked_words = "idiot"` blocking i, d, o and t): a list must be a list.
    def is_list_type(type_: Any) -> bool:
        origin, args = typing.get_origin(type_), typing.get_args(type_)
        return origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis)

    def list_hook(type_: Any) -> Callable[[Any, Any], Any]:
        origin, item = typing.get_origin(type_), typing.get_args(type_)[0]

        def hook(value: object, _type: object) -> Any:
            if not isinstance(value, list):
                raise _wrong("config.expected_list", _shown(value))
            items = [converter.structure(v, item) for v in value]
            return tuple(items) if origin is tuple else items

        return hook

    converter.register_structure_hook_factory(is_list_type, list_hook)

    # Likewise a table (`rates = 3` was an AttributeError about .items()).
    def is_dict_type(type_: Any) -> bool:
        return typing.get_origin(type_) is dict

    def dict_hook(type_: Any) -> Callable[[Any, Any], Any]:
        key_type, value_type = typing.get_args(type_)

        def hook(value: object, _type: object) -> Any:
            if not isinstance(value, dict):
                raise _wrong("config.expected_table", _type_name(value))
            out, problems = {}, []
            for k, v in value.items():
                try:
                    out[converter.structure(k, key_type)] = converter.structure(v, value_type)
                except Exception as exc:  # every bad entry, each one line
                    problems.append(exc)
            if problems:
                raise ExceptionGroup("table", problems)
            return out

        return hook

    converter.register_structure_hook_factory(is_dict_type, dict_hook)

    def table_hook(cls: type) -> Callable[[Any, Any], Any]:
        structure: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True)
        precheck = _PRECHECKS.get(cls)

        def hook(value: object, _type: object) -> Any:
            if not isinstance(value, dict):
                raise _wrong("config.expected_table", _type_name(value))
            if precheck is not None:
                precheck(value)
            return structure(value, cls)

        return hook

    converter.register_structure_hook_factory(attrs.has, table_hook)
    return converter


CONVERTER = _make_converter()


def _problems(exc: BaseException, path: tuple[str, ...]) -> list[Problem]:
    """Flatten cattrs' exception groups into (key.path, problem) pairs."""
    if isinstance(exc, cattrs.ClassValidationError):
        with_notes, without = exc.group_exceptions()
        lines = []
        for sub, note in with_notes:
            lines += _problems(sub, (*path, str(note.name)))
        for sub in without:
            lines += _problems(sub, path)
        return lines
    if isinstance(exc, BaseExceptionGroup):
        return [line for sub in exc.exceptions for line in _problems(sub, path)]
    if isinstance(exc, ForbiddenExtraKeysError):
        return [(".".join((*path, key)), says("config.unknown_setting")) for key in sorted(exc.extra_fields)]
    if isinstance(exc, ValueProblem):
        return [(".".join((*path, exc.field)), exc.said)]
    where = ".".join(path) or "(top level)"
    if isinstance(exc, WrongType):
        return [(where, exc.said)]
    # Nothing we raise comes here: Python's own words, untranslated.
    if isinstance(exc, TypeError | ValueError):
        return [(where, says("config.problem", problem=str(exc)))]
    return [(where, says("config.problem", problem=f"{type(exc).__name__}: {exc}"))]


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, keys in ENV_SECRETS.items():
        value = env.get(name)
        if value:
            table = data
            for key in keys[:-1]:
                table = table.setdefault(key, {})
                if not isinstance(table, dict):
                    return  # the wrong type is reported by the converter
            table[keys[-1]] = value


def surroundings(config: Config) -> Surroundings:
    """What a platform's settings may depend on beyond their own section."""
    control = config.control
    return Surroundings(
        control_enabled=control.enabled,
        control_host=control.host,
        control_port=control.port,
        control_has_token=bool(control.token),
        base_dir=config.base_dir,
    )


def _check_whole(config: Config) -> list[Problem]:
    """Rules that span several settings."""
    problems: list[Problem] = []
    monitors = config.monitors
    control = config.control
    if control.enabled and control.host not in ("127.0.0.1", "::1", "localhost") and not control.token:
        problems.append(("control.token", says("config.token_needed", host=control.host)))
    around = surroundings(config)
    for _, section in monitors.platforms():
        problems.extend(section.problems(around))
    live = monitors.enabled()
    if live and monitors.replay.enabled and not monitors.replay.path:
        # The demo's made-up viewers would be answered beside real chat, and
        # the service would stop itself when the demo ends, mid-stream.
        problems.append(("monitors.replay.enabled", says("config.demo_beside_live", live=live[0])))
    elif live and monitors.replay.enabled and monitors.replay.ends_run:
        said = says("config.replay_ends_run", path=monitors.replay.path, live=live[0])
        problems.append(("monitors.replay.ends_run", said))
    if not (monitors.replay.enabled or live):
        names = ", ".join(name for name, _ in monitors.platforms())
        problems.append(("monitors", says("config.no_monitor", names=names)))
    if monitors.replay.enabled and monitors.replay.path:
        path = config.base_dir / monitors.replay.path
        if not path.is_file():
            problems.append(("monitors.replay.path", says("config.replay_missing", path=monitors.replay.path)))
        else:
            # Readable is all that is checked: the replay streams the file and
            # skips a bad line by its number, so one bad byte costs one record.
            try:
                with path.open("rb") as file:
                    file.read(1)
            except OSError as exc:
                said = says("config.replay_unreadable", error=str(exc.strerror), path=monitors.replay.path)
                problems.append(("monitors.replay.path", said))
    return problems


def parse_config(
    text: str, *, name: str = "config.toml", base_dir: Path = Path("."), env: Mapping[str, str] | None = None
) -> Config:
    """Parse TOML text into a Config, or raise ConfigError naming every mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's own words (line and column) stay English
        raise ConfigError([(name, says("config.not_toml", error=str(exc)))]) from None
    _apply_env(data, os.environ if env is None else env)
    if "base_dir" in data:
        raise ConfigError([(f"{name}: base_dir", says("config.unknown_setting"))])
    try:
        config = CONVERTER.structure(data, Config)
    except Exception as exc:
        raise ConfigError((f"{name}: {where}", said) for where, said in _problems(exc, ())) from None
    config = attrs.evolve(config, base_dir=base_dir)
    problems = _check_whole(config)
    if problems:
        raise ConfigError((f"{name}: {where}", said) for where, said in problems)
    return config


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([(str(path), says("config.no_such_file"))]) from None
    except IsADirectoryError:
        raise ConfigError([(str(path), says("config.is_directory"))]) from None
    except UnicodeDecodeError:
        raise ConfigError([(str(path), says("config.not_utf8"))]) from None
    except OSError as exc:
        raise ConfigError([(str(path), says("config.cannot_read", error=str(exc.strerror)))]) from None
    return parse_config(text, name=str(path), base_dir=path.parent, env=env)
