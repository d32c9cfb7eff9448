"""A secret from a config file or the environment: an API key, a client
secret, a control token. It never shows itself in a repr, a str or a log
line; only `reveal()`, where it is sent, gives the value."""

from __future__ import annotations


class Secret:
    """A string that never shows itself. Use `reveal()` where it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "***" if self._value else ""
