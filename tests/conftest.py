"""Shared test settings: a Hypothesis profile tuned for 2-core CI."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Examples run whole Trio programs on a MockClock: deadlines in wall time mean
# nothing for them. CI gets fewer examples than a developer who asks for more.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
