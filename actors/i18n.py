"""Korean and English for everything a streamer reads.

One catalogue per language (`actors/data/i18n/<lang>/`), the same keys in
each (a test holds them to it, placeholders included). Each file is one
section, named for where its texts are read: `dashboard.*`, `overlay.*`,
`pages.*` (the OAuth pages), `cockpit.*` (the answers to the live
controls), `status.*` (what an actor says of itself), `console.*` (the
terminal's lines), `config.*` (the mistakes a config can hold).

A text made far from where it is read (an actor's status, an error) is a
`Said`: its key and parameters, rendered in the reader's language when it
is read, so one status shows in Korean on one page and in English on
another. Its English rendering is what logs and tests see.
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
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from supervision import ChildContext

LANGUAGES = ("en", "ko")
DEFAULT = "en"


@functools.cache
def catalogue(language: str) -> Mapping[str, str]:
    """Every text of one language, by its dotted key."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for {language!r}; there are: {', '.join(LANGUAGES)}")
    folder = resources.files("actors") / "data" / "i18n" / language
    out: dict[str, str] = {}
    for section in sorted(folder.iterdir(), key=lambda f: f.name):
        if section.name.endswith(".toml"):
            raw = tomllib.loads(section.read_text(encoding="utf-8"))
            out.update(_flatten(raw, section.name.removesuffix(".toml") + "."))
    return out


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


Param = str | int | float


@attrs.frozen
class Said:
    """A text by its key and parameters, to be rendered in the reader's language.

    Parameters are plain values (they travel in JSON to the pages); a
    parameter that is itself a Said is rendered first, in the same language.
    """

    key: str
    params: Mapping[str, Param | Said] = attrs.field(factory=dict)

    def text(self, language: str = DEFAULT) -> str:
        params = {k: v.text(language) if isinstance(v, Said) else v for k, v in self.params.items()}
        return text(self.key, language, **params)

    def __str__(self) -> str:
        return self.text(DEFAULT)

    def to_dict(self) -> dict[str, Any]:
        """For JSON: {"key": ..., "params": {...}}, a nested Said as a dict too."""
        return {
            "key": self.key,
            "params": {k: v.to_dict() if isinstance(v, Said) else v for k, v in self.params.items()},
        }


def says(key: str, **params: Param | Said) -> Said:
    return Said(key, params)


def tell(ctx: ChildContext, said: Said) -> None:
    """Set an actor's status: English text for the log, the Said for each
    reader to render in its own language (the dashboard, the console)."""
    ctx.set_status(said.text(), said.to_dict())


def render(detail: object, language: str, fallback: str = "") -> str:
    """A Said's dict (as `to_dict` made it, e.g. from a status snapshot)
    in `language`; `fallback` when it is not one or names no known key."""
    if not (isinstance(detail, Mapping) and isinstance(detail.get("key"), str)):
        return fallback
    key = detail["key"]
    if key not in catalogue(DEFAULT):
        return fallback
    raw = detail.get("params")
    params = {
        str(k): render(v, language, str(v)) if isinstance(v, Mapping) else v
        for k, v in (raw.items() if isinstance(raw, Mapping) else ())
    }
    try:
        return text(key, language, **params)
    except (KeyError, IndexError, ValueError):
        return fallback


class SaidError(Exception):
    """An error a streamer can read in their language: `str()` is English
    (logs, tests), `said` renders in any; `detail` is what supervision
    passes on to the pages (supervision.error_detail)."""

    def __init__(self, said: Said | str) -> None:
        self.said = said if isinstance(said, Said) else says("status.error", error=said)
        super().__init__(self.said.text())

    @property
    def detail(self) -> dict[str, Any]:
        return self.said.to_dict()


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
