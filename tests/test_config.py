"""Config: every mistake is one line naming the file, the key path and the problem."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.config import Config, ConfigError, Secret, load_config, parse_config

REPO = Path(__file__).resolve().parent.parent


def problem(text: str, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, **kwargs)
    return str(info.value)


def test_the_shipped_config_is_valid_and_matches_the_defaults_it_documents():
    config = load_config(REPO / "config.toml", env={})
    assert config.monitors.replay.enabled and config.monitors.replay.path == ""
    # The file says which values differ from the defaults ("demo"); the rest
    # must be the defaults, or the comments lie.
    defaults = parse_config("", env={})
    assert attrs.evolve(config.router, capacity=defaults.router.capacity, vtuber_names=()) == defaults.router
    assert config.archive == defaults.archive
    assert config.session == defaults.session
    assert config.monitors == defaults.monitors
    assert config.service == defaults.service


def test_an_empty_file_is_the_demo():
    config = parse_config("", env={})
    assert config.monitors.replay.enabled and config.session.kind == "console"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[monitors.youtube]\nmax_retries = "ten"',
            "config.toml: monitors.youtube.max_retries: expected an integer, got 'ten'",
        ),
        (
            "[monitors.youtube]\nmax_retries = 2.5",
            "config.toml: monitors.youtube.max_retries: expected an integer, got 2.5",
        ),
        ("[session]\nspeaking_time = true", "config.toml: session.speaking_time: expected a number, got True"),
        (
            '[monitors.replay]\nenabled = "yes"',
            "config.toml: monitors.replay.enabled: expected true or false, got 'yes'",
        ),
        ("[monitors.replay]\nspeeed = 2", "config.toml: monitors.replay.speeed: unknown setting"),
        ("[routr]\ncapacity = 2", "config.toml: routr: unknown setting"),
        ("[router]\ncapacity = 0", "config.toml: router.capacity: must be at least 1, got 0"),
        (
            "[router]\nsettle = 20.0\nmax_age = 10.0",
            "config.toml: router.settle: must be shorter than max_age (10 s), or chat expires unanswered",
        ),
        ("[router]\nsimilarity = 0", "config.toml: router.similarity: must be within [0.01, 1], got 0.0"),
        (
            "[monitors.replay]\nspeed = 0",
            "config.toml: monitors.replay.speed: must be greater than 0 (or inf: no pacing), got 0.0",
        ),
        ("[monitors.backoff]\njitter = 1.5", "config.toml: monitors.backoff.jitter: must be within [0, 1], got 1.5"),
        (
            "[monitors.backoff]\nmin_delay = 9\nmax_delay = 3",
            "config.toml: monitors.backoff.max_delay: must be at least min_delay (9), got 3",
        ),
        ('[session]\nkind = "vtube"', "config.toml: session.kind: must be one of console, olv; got 'vtube'"),
        (
            "[monitors]\nreplay = 3",
            "config.toml: monitors.replay: expected a table ([section] or {...}), got an integer",
        ),
        ('[monitors.replay]\npath = "missing.jsonl"', "config.toml: monitors.replay.path: no such file: missing.jsonl"),
        (
            "[monitors.replay]\nenabled = false",
            "config.toml: monitors: no monitor is enabled; enable monitors.replay or one of: youtube, chzzk, twitch",
        ),
        (
            '[monitors.replay]\nenabled = false\n[monitors.youtube]\nenabled = true\nvideo_id = "v"',
            "config.toml: monitors.youtube.api_key: needed when the YouTube monitor is enabled (or YOUTUBE_API_KEY)",
        ),
        (
            "[monitors.replay]\nenabled = false\n[control]\nenabled = true\n"
            '[monitors.chzzk]\nenabled = true\nclient_id = "id"',
            "config.toml: monitors.chzzk.client_secret: needed when the Chzzk monitor is enabled"
            " (or CHZZK_CLIENT_SECRET); it is on your app's page at developers.chzzk.naver.com",
        ),
        (
            "[monitors.replay]\nenabled = false\n"
            '[monitors.chzzk]\nenabled = true\nclient_id = "id"\nclient_secret = "s"',
            "config.toml: control.enabled: the Chzzk monitor needs the control surface on, because Chzzk's"
            " OAuth consent comes back to its /chzzk/callback",
        ),
        (
            '[monitors.youtube]\nenabled = true\nvideo_id = "v"\napi_key = "k"',
            "config.toml: monitors.replay.enabled: the bundled demo chat is still on beside monitors.youtube;"
            " set monitors.replay.enabled = false to go live (see examples/ for configs made for streaming)",
        ),
        (
            '[monitors.chzzk]\nevents = ["chat", "gifts"]',
            "config.toml: monitors.chzzk.events: unknown event 'gifts'; use any of chat, donation, subscription",
        ),
        (
            '[monitors.chzzk]\nredirect_uri = "localhost:12394/chzzk/callback"',
            "config.toml: monitors.chzzk.redirect_uri: must be an http:// or https:// URL,"
            " got 'localhost:12394/chzzk/callback'",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_setting(text, expected):
    assert problem(text, env={}) == expected


def test_several_mistakes_give_one_line_each():
    lines = problem('[router]\ncapacity = "x"\nbogus = 1\n[session]\nturn_grace = -1', env={}).splitlines()
    assert sorted(lines) == [
        "config.toml: router.bogus: unknown setting",
        "config.toml: router.capacity: expected an integer, got 'x'",
        "config.toml: session.turn_grace: must be at least 0, got -1.0",
    ]


def test_toml_syntax_errors_name_the_file():
    assert problem("[router\ncapacity = 2", env={}).startswith("config.toml: not valid TOML: ")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file$"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


INT_SETTINGS = [
    ("service", "intensity"),
    ("router", "capacity"),
    ("router", "inbox_size"),
    ("router", "dedupe_ids"),
    ("monitors", "intensity"),
    ("monitors.replay", "max_retries"),
    ("monitors.youtube", "max_retries"),
    ("monitors.chzzk", "max_retries"),
    ("monitors.backoff", "max_failures"),
]


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        # A TOML basic string: escape quotes, backslashes and every control
        # character (TOML also forbids a raw DEL, which JSON allows).
        body = "".join(
            f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else "\\" + c if c in '"\\' else c for c in value
        )
        return f'"{body}"'

    return repr(value)


@given(
    st.sampled_from(INT_SETTINGS),
    st.text(max_size=10) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans(),
)
def test_any_wrong_type_names_its_key_path(setting, value):
    section, key = setting
    lines = problem(f"[{section}]\n{key} = {toml_value(value)}\n", env={}).splitlines()
    assert lines == [f"config.toml: {section}.{key}: expected an integer, got {value!r}"]


def test_secrets_come_from_the_environment_and_never_show():
    env = {"YOUTUBE_API_KEY": "AIza-very-secret", "CHZZK_CLIENT_ID": "cid-secret", "CHZZK_CLIENT_SECRET": "csecret"}
    config = parse_config('[monitors.youtube]\napi_key = "from-file"', env=env)
    assert config.monitors.youtube.api_key.reveal() == "AIza-very-secret"  # the environment wins
    assert config.monitors.chzzk.client_id.reveal() == "cid-secret"
    for shown in (repr(config), str(config), repr(config.monitors), f"{config.monitors.chzzk}"):
        for secret in env.values():
            assert secret not in shown
    assert str(Secret("x")) == "***" and repr(Secret("x")) == "Secret('***')"


def test_a_secret_in_a_wrong_type_error_is_not_echoed():
    """A key pasted into the wrong place must not come back in the error."""
    text = problem('[monitors.youtube]\napi_key = ["AIza-oops"]', env={})
    assert "AIza-oops" not in text
    assert text == "config.toml: monitors.youtube.api_key: expected a string, got a list"


def test_config_is_frozen():
    config = Config()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.router = None  # type: ignore[misc]


def test_a_numeric_secret_is_not_echoed_either():
    text = problem("[monitors.chzzk]\nclient_secret = 123456789012", env={})
    assert "123456789012" not in text
    assert text == "config.toml: monitors.chzzk.client_secret: expected a string, got an integer"


def test_a_replay_file_with_a_bad_byte_is_accepted_since_only_that_line_is_skipped(tmp_path):
    (tmp_path / "chat.jsonl").write_bytes(b"\xff\xfe\n")
    config = parse_config('[monitors.replay]\npath = "chat.jsonl"', base_dir=tmp_path, env={})
    assert config.monitors.replay.path == "chat.jsonl"


def test_a_replay_path_that_is_a_directory_is_a_config_error(tmp_path):
    (tmp_path / "chat.jsonl").mkdir()
    assert problem('[monitors.replay]\npath = "chat.jsonl"', base_dir=tmp_path, env={}) == (
        "config.toml: monitors.replay.path: no such file: chat.jsonl"
    )


def _list_settings(cls: type, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every setting whose value is a list, found by walking the config classes."""
    found = []
    for field in attrs.fields(attrs.resolve_types(cls)):
        origin = typing.get_origin(field.type)
        if attrs.has(field.type):
            found += _list_settings(field.type, (*path, field.name))
        elif origin is list or (origin is tuple and typing.get_args(field.type)[1:] == (Ellipsis,)):
            found.append((*path, field.name))
    return found


LIST_SETTINGS = _list_settings(Config)


def test_the_walk_finds_the_list_settings():
    assert ("router", "filters", "blocked_words") in LIST_SETTINGS
    assert ("monitors", "chzzk", "events") in LIST_SETTINGS


@pytest.mark.parametrize("path", LIST_SETTINGS, ids=".".join)
def test_a_string_where_a_list_belongs_names_the_key(path):
    """`blocked_words = "idiot"` used to become the letters i, d, i, o, t."""
    toml = f'[{".".join(path[:-1])}]\n{path[-1]} = "idiot"\n' if len(path) > 1 else f'{path[0]} = "idiot"\n'
    assert problem(toml, env={}) == (f'config.toml: {".".join(path)}: expected a list (like ["a", "b"]), got \'idiot\'')


def test_a_recording_beside_live_chat_must_not_end_the_run(tmp_path):
    (tmp_path / "night.jsonl").write_text("", encoding="utf-8")
    live = (
        '[monitors.youtube]\nenabled = true\nvideo_id = "v"\napi_key = "k"\n[monitors.replay]\npath = "night.jsonl"\n'
    )
    assert problem(live, base_dir=tmp_path, env={}) == (
        "config.toml: monitors.replay.ends_run: the service would stop when night.jsonl ends, while"
        " monitors.youtube still reads live chat; set ends_run = false, or turn the replay off"
    )
    config = parse_config(live + "ends_run = false\n", base_dir=tmp_path, env={})
    assert config.monitors.replay.enabled and config.monitors.youtube.enabled


@pytest.mark.parametrize("example", sorted((REPO / "examples").glob("*.toml")), ids=lambda p: p.name)
def test_the_example_configs_are_valid_and_never_replay_the_demo(example):
    env = {"YOUTUBE_API_KEY": "k", "CHZZK_CLIENT_ID": "i", "CHZZK_CLIENT_SECRET": "s", "TWITCH_CLIENT_ID": "t"}
    config = load_config(example, env=env)
    assert not config.monitors.replay.enabled
    assert config.monitors.enabled()  # a live platform


def test_there_are_examples_for_each_way_of_going_live():
    examples = {p.name for p in (REPO / "examples").glob("*.toml")}
    assert examples >= {"youtube.toml", "chzzk.toml", "twitch.toml", "both-with-olv.toml"}


# ---- in Korean too --------------------------------------------------------------


def has_hangul(text: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in text)


def config_error(text: str, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, **kwargs)
    return info.value


@pytest.mark.parametrize(
    ("text", "english"),
    [
        # a validator's bound
        ("[router]\ncapacity = 0", "config.toml: router.capacity: must be at least 1, got 0"),
        # a wrong type
        (
            '[monitors.youtube]\nmax_retries = "ten"',
            "config.toml: monitors.youtube.max_retries: expected an integer, got 'ten'",
        ),
        ("[routr]\ncapacity = 2", "config.toml: routr: unknown setting"),
        # a rule across settings
        (
            "[monitors.replay]\nenabled = false\n"
            '[monitors.chzzk]\nenabled = true\nclient_id = "id"\nclient_secret = "s"',
            "config.toml: control.enabled: the Chzzk monitor needs the control surface on, because Chzzk's"
            " OAuth consent comes back to its /chzzk/callback",
        ),
        (
            '[monitors.replay]\nspeed = 0\n[session.templates]\nchat = "{user}"',
            "config.toml: session.templates.chat: unknown placeholder {user};"
            " use {platform}, {label}, {amount}, {author}, {roles}, {text}\n"
            "config.toml: monitors.replay.speed: must be greater than 0 (or inf: no pacing), got 0.0",
        ),
    ],
)
def test_a_mistake_reads_in_korean_naming_the_same_setting(text, english):
    error = config_error(text, env={})
    assert str(error) == english  # the English is what it always was
    korean = error.text("ko").split("\n")
    assert len(korean) == len(english.split("\n"))
    for en_line, ko_line in zip(english.split("\n"), korean, strict=True):
        where = ": ".join(en_line.split(": ")[:2])  # "config.toml: router.capacity"
        assert ko_line.startswith(where + ": ") and has_hangul(ko_line), ko_line
    assert error.text("en") == english


def test_a_wrong_type_names_the_type_in_korean_too():
    error = config_error("[monitors.chzzk]\nclient_secret = 123456789012", env={})
    assert error.text("ko") == (
        'config.toml: monitors.chzzk.client_secret: 따옴표로 감싼 문자열이어야 합니다 (예: "abc") (입력한 값: 정수)'
    )


def test_the_files_own_mistakes_read_in_korean(tmp_path):
    bad_toml = config_error("[router\ncapacity = 2", env={})
    assert str(bad_toml).startswith("config.toml: not valid TOML: ")
    ko = bad_toml.text("ko")
    assert ko.startswith("config.toml: ") and has_hangul(ko)
    assert ko.endswith(str(bad_toml).removeprefix("config.toml: not valid TOML: "))  # tomllib's own words, as they are

    with pytest.raises(ConfigError) as missing:
        load_config(tmp_path / "nope.toml")
    assert str(missing.value) == f"{tmp_path / 'nope.toml'}: no such file"
    assert missing.value.text("ko").startswith(f"{tmp_path / 'nope.toml'}: ") and has_hangul(missing.value.text("ko"))

    with pytest.raises(ConfigError) as directory:
        load_config(tmp_path)
    assert str(directory.value) == f"{tmp_path}: is a directory, not a config file"
    assert has_hangul(directory.value.text("ko"))

    (tmp_path / "latin1.toml").write_bytes("# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as not_utf8:
        load_config(tmp_path / "latin1.toml")
    assert str(not_utf8.value).endswith("latin1.toml: not UTF-8 text")
    assert has_hangul(not_utf8.value.text("ko"))


def test_a_negative_weight_names_its_key_in_both_languages():
    error = config_error("[router.weights]\npaid_base = -1\nowner = inf", env={})
    assert str(error).split("\n") == [
        "config.toml: router.weights.paid_base: must be a finite number >= 0, got -1",
        "config.toml: router.weights.owner: must be a finite number >= 0, got inf",
    ]
    assert all(line.startswith("config.toml: router.weights.") for line in error.text("ko").split("\n"))
    assert has_hangul(error.text("ko"))


def test_a_table_setting_given_a_number_is_one_line_not_a_python_error():
    # It used to be "router.rates: AttributeError: 'int' object has no attribute 'items'".
    error = config_error("[router]\nrates = 3", env={})
    assert str(error) == "config.toml: router.rates: expected a table ([section] or {...}), got an integer"
    assert error.text("ko").startswith("config.toml: router.rates: ") and has_hangul(error.text("ko"))


# Settings of each type, and names that are none, for any value of any type.
MISTAKE_SETTINGS = [
    *INT_SETTINGS,
    ("router", "max_age"),
    ("router", "similarity"),
    ("router", "vtuber_names"),
    ("router", "rates"),
    ("router", "bogus"),
    ("router.weights", "owner"),
    ("monitors.backoff", "jitter"),
    ("monitors.replay", "enabled"),
    ("monitors.replay", "speed"),
    ("monitors.chzzk", "events"),
    ("monitors.chzzk", "redirect_uri"),
    ("session", "kind"),
    ("session.olv", "url"),
    ("service", "language"),
    ("control", "port"),
    ("control", "tokn"),
]
ANY_VALUE = (
    st.integers(-5, 70_000)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.booleans()
    | st.lists(st.integers(0, 9), max_size=2)
)


def toml_any(value: object) -> str:
    return repr(value) if isinstance(value, list) else toml_value(value)


@given(st.dictionaries(st.sampled_from(MISTAKE_SETTINGS), ANY_VALUE, min_size=1, max_size=4))
def test_every_line_names_the_same_place_in_both_languages(settings):
    sections: dict[str, list[str]] = {}
    for (section, key), value in settings.items():
        sections.setdefault(section, []).append(f"{key} = {toml_any(value)}")
    text = "".join(f"[{section}]\n" + "\n".join(lines) + "\n" for section, lines in sections.items())
    try:
        parse_config(text, env={})
    except ConfigError as error:
        english, korean = str(error).split("\n"), error.text("ko").split("\n")
        assert len(english) == len(korean) == len(error.lines)
        for (where, _), en_line, ko_line in zip(error.lines, english, korean, strict=True):
            assert where.startswith("config.toml: ")
            assert en_line.startswith(where + ": ") and ko_line.startswith(where + ": ")
            assert has_hangul(ko_line[len(where) :]), ko_line  # nothing left in English only


# ---- the console's language -------------------------------------------------------


def run_actors(config: Path, lang: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "YOUTUBE_", "CHZZK_"))}
    return subprocess.run(
        [sys.executable, "-m", "actors", str(config), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        cwd=REPO,
        env={**env, "LANG": lang, "PYTHONIOENCODING": "utf-8"},
    )


def test_the_console_tells_a_config_mistake_in_the_locales_language_unless_the_file_says(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[router]\ncapacity = 0\n", encoding="utf-8")
    korean = run_actors(config, "ko_KR.UTF-8")
    assert korean.returncode == 2
    assert korean.stderr.startswith(f"{config}: router.capacity: ") and has_hangul(korean.stderr), korean.stderr

    config.write_text('[service]\nlanguage = "en"\n[router]\ncapacity = 0\n', encoding="utf-8")
    english = run_actors(config, "ko_KR.UTF-8")
    assert english.returncode == 2
    assert english.stderr.strip() == f"{config}: router.capacity: must be at least 1, got 0"

    config.write_text('[service]\nlanguage = "ko"\n[router\n', encoding="utf-8")  # not TOML: the locale decides
    broken = run_actors(config, "en_US.UTF-8")
    assert broken.returncode == 2
    assert broken.stderr.startswith(f"{config}: not valid TOML: ") and not has_hangul(broken.stderr)


def test_check_says_ok_in_the_consoles_language(tmp_path):
    config = tmp_path / "fine.toml"
    config.write_text('[service]\nlanguage = "ko"\n', encoding="utf-8")
    result = run_actors(config, "en_US.UTF-8", "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{config}: ") and has_hangul(result.stdout)
