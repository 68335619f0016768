"""Tests write computed tables (optics, tracked spills, depth–dose and biology libraries)
to a private cache directory, never to the user's cache."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    previous = os.environ.get("IONBEAM_CACHE_DIR")
    os.environ["IONBEAM_CACHE_DIR"] = str(tmp_path_factory.mktemp("ionbeam-cache"))
    yield
    if previous is None:
        os.environ.pop("IONBEAM_CACHE_DIR", None)
    else:
        os.environ["IONBEAM_CACHE_DIR"] = previous
