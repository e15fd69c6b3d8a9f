"""Shared hypothesis settings for the icao9303 (non-crypto) fuzz and property tests, and their check.

The CI machine has 2 cores shared by the whole suite: no deadline (a slow example is not a failure) and
the generation-speed health check off (it measures the machine, not the code). Every test sets its own
bounded ``max_examples`` on top: ``@settings(FUZZ, max_examples=N)``, N at most `MAX_EXAMPLES_CEILING`.
"""
import importlib

import pytest
from hypothesis import HealthCheck, settings

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_EXAMPLES_CEILING = 400

MODULES = ["apdu", "cli", "lds", "mrz", "security_infos", "sod", "tlv", "vn"]


@pytest.mark.parametrize("name", MODULES)
def test_every_fuzz_test_is_bounded_and_has_no_deadline(name):
    module = importlib.import_module(f"tests.test_icao_{name}")
    fuzz = [getattr(module, n) for n in dir(module) if n.startswith("test_")
            and hasattr(getattr(module, n), "hypothesis")]
    for test in fuzz:
        chosen = test._hypothesis_internal_use_settings
        assert chosen.deadline is None, test.__name__
        assert chosen.max_examples <= MAX_EXAMPLES_CEILING, test.__name__
        assert HealthCheck.too_slow in chosen.suppress_health_check, test.__name__
    assert fuzz, f"tests.test_icao_{name} has no hypothesis test"
