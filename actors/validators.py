"""attrs validators whose errors name their field.

cattrs reports where a value failed to *structure*, but an attrs validator's
error arrives without the field's name; these carry it, so a config mistake
becomes "router.capacity: must be at least 1, got 0" rather than a bare
message. Any settings class (config, filters, scoring) can use them.

The message is a `Said` (config.* in the catalogue), so the streamer reads
it in their language; `str()` of the error is its English.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from .i18n import Said, says


class ValueProblem(ValueError):
    """Raised by validators: carries the field name cattrs would lose, and
    the problem as a Said; str() is its English."""

    def __init__(self, field: str, said: Said) -> None:
        super().__init__(str(said))
        self.field = field
        self.said = said


Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def greater_than(bound: float) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not (value > bound and math.isfinite(value)):
            raise ValueProblem(attribute.name, says("config.greater_than", bound=f"{bound:g}", value=repr(value)))

    return check


def at_least(bound: float) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not (value >= bound and math.isfinite(value)):
            raise ValueProblem(attribute.name, says("config.at_least", bound=f"{bound:g}", value=repr(value)))

    return check


def within(low: float, high: float) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not low <= value <= high:
            said = says("config.within", low=f"{low:g}", high=f"{high:g}", value=repr(value))
            raise ValueProblem(attribute.name, said)

    return check


def one_of(*choices: str) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ValueProblem(attribute.name, says("config.one_of", choices=", ".join(choices), value=repr(value)))

    return check


def http_url(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.startswith(("http://", "https://")):
        raise ValueProblem(attribute.name, says("config.http_url", value=repr(value)))


def optional_http_url(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value:
        http_url(instance, attribute, value)
