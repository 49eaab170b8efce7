"""Calibration test fixtures: a private calibration cache and calibrations shared by the tests."""
from __future__ import annotations

import os

import pytest

from neuroemu.calibration.cache import CACHE_ENV


@pytest.fixture(scope="package", autouse=True)
def calibration_cache(tmp_path_factory):
    """Every calibration of these tests caches into a fresh temporary directory (also inherited
    by the Dask workers of the sweep tests); the user's cache is never touched."""
    path = tmp_path_factory.mktemp("calibration-cache")
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(path)
    yield path
    if old is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = old


@pytest.fixture(scope="package")
def small_cals(calibration_cache):
    """Default-target calibrations of chips 0 and 1 of ``small`` (membrane noise on), cached."""
    from neuroemu.calibration import calibrate

    return {seed: calibrate("small", seed) for seed in (0, 1)}
