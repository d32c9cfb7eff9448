"""Korean and English for everything a streamer reads.

One catalogue per language (`actors/data/i18n/<lang>.toml`), the same keys
in each (a test holds them to it, placeholders included). Sections group
the keys by where they are read: `dashboard.*`, `overlay.*`, `pages.*`
(the OAuth pages), `cockpit.*` (the answers to the live controls).
Machine-readable output (log event names, `/status` keys, fate reasons)
is not translated: scripts read it.

`[service] language` is "auto", "ko" or "en". Auto means the system locale
for the console, and the browser's Accept-Language for a page; a page's
`?lang=` wins over both, so a streamer can switch without a restart.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

LANGUAGES = ("en", "ko")
DEFAULT = "en"


@functools.cache
def catalogue(language: str) -> Mapping[str, str]:
    """Every text of one language, by its dotted key."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for {language!r}; there are: {', '.join(LANGUAGES)}")
    raw = (resources.files("actors") / "data" / "i18n" / f"{language}.toml").read_text(encoding="utf-8")
    return _flatten(tomllib.loads(raw))


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


def text(key: str, language: str, **params: object) -> str:
    """The text of `key` in `language`, its {placeholders} filled in."""
    template = catalogue(language).get(key) or catalogue(DEFAULT)[key]
    return template.format(**params) if params else template


def page_language(setting: str, accept_language: str | None = None, asked: str | None = None) -> str:
    """The language of a page: `?lang=` if it names one, then the setting,
    and for "auto" the first language of Accept-Language we have."""
    if asked in LANGUAGES:
        return str(asked)
    if setting in LANGUAGES:
        return setting
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        for language in LANGUAGES:
            if tag == language or tag.startswith(language + "-"):
                return language
    return DEFAULT


def console_language(setting: str, environ: Mapping[str, str]) -> str:
    """The console's language: the setting, and for "auto" the locale
    (LC_ALL, then LC_MESSAGES, then LANG, as POSIX reads them)."""
    if setting in LANGUAGES:
        return setting
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "ko" if value.lower().startswith("ko") else DEFAULT
    return DEFAULT
