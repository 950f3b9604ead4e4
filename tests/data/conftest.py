"""Fixtures of the dataset tests (in-silico sessions come from tests/conftest.py)."""

from __future__ import annotations

import pytest
from sample_factory import synthetic_samples

from brainenc.data.samples import SampleSet


@pytest.fixture
def samples() -> SampleSet:
    return synthetic_samples()
