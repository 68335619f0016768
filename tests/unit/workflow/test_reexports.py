"""``ionbeam`` re-exports the front door lazily: the names are those of
``ionbeam.workflow``, and ``import ionbeam`` alone imports none of it (``ionbeam --help``
stays fast; see tests/unit/cli/test_startup.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ionbeam
import ionbeam.workflow


@pytest.mark.parametrize("name", ionbeam._WORKFLOW)
def test_reexported_names_are_the_workflows(name: str) -> None:
    assert getattr(ionbeam, name) is getattr(ionbeam.workflow, name)
    assert name in ionbeam.__all__
    assert name in ionbeam.workflow.__all__


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'make_plans'"):
        ionbeam.make_plans  # noqa: B018


def test_import_ionbeam_does_not_import_the_workflow() -> None:
    probe = "import sys, ionbeam; print('ionbeam.workflow' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert loaded == "False"
