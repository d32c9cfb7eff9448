"""attrs validators whose errors name their field.

cattrs reports where a value failed to *structure*, but an attrs validator's
error arrives without the field's name; these carry it, so a config mistake
becomes "router.capacity: must be at least 1, got 0" rather than a bare
message. Any settings class (config, filters, scoring) can use them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs


class ValueProblem(ValueError):
    """Raised by validators: carries the field name cattrs would lose."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def greater_than(bound: float) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not (value > bound and math.isfinite(value)):
            raise ValueProblem(attribute.name, f"must be greater than {bound:g}, got {value!r}")

    return check


def at_least(bound: float) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not (value >= bound and math.isfinite(value)):
            raise ValueProblem(attribute.name, f"must be at least {bound:g}, got {value!r}")

    return check


def within(low: float, high: float) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not low <= value <= high:
            raise ValueProblem(attribute.name, f"must be within [{low:g}, {high:g}], got {value!r}")

    return check


def one_of(*choices: str) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ValueProblem(attribute.name, f"must be one of {', '.join(choices)}; got {value!r}")

    return check
