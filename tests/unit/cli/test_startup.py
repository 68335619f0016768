"""``ionbeam --help`` starts fast because it imports none of the heavy packages
(numba, scipy.optimize, pydicom, matplotlib, xsuite): sub-commands import them in
their handlers. Timings are in ``bench/startup.py``; this checks the cause."""

from __future__ import annotations

import subprocess
import sys

_HEAVY = ("numba", "scipy", "pydicom", "matplotlib", "xtrack", "importlib.metadata")


def test_help_imports_no_heavy_package() -> None:
    probe = (
        "import sys, contextlib, io\n"
        "from ionbeam.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(','.join(m for m in {_HEAVY!r} if m in sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert loaded == ""


def test_version_is_still_reported() -> None:
    """The version is looked up lazily, on ``--version`` (and ``ionbeam.__version__``)."""
    import ionbeam

    out = subprocess.run(
        [sys.executable, "-m", "ionbeam.cli.main", "--version"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.strip() == f"ionbeam {ionbeam.__version__}"
    assert ionbeam.__version__ != ""
