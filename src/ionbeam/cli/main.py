"""Entry point of the ``ionbeam`` command.

Each sub-command lives in its own ``ionbeam.cli._<name>`` module with a
``register(subparsers)`` function; handlers import the heavy parts of the
library lazily so that ``ionbeam --help`` stays fast. A user's mistake
(any :class:`ionbeam.IonbeamError`) is printed on one line and exits with
status 2; anything else is a bug and keeps its traceback. Warnings (e.g. a
file skipped in a DICOM folder) are printed on one line each.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from ionbeam.errors import IonbeamError

__all__ = ["build_parser", "main"]

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "physics",
    "phantom",
    "synchrotron",
    "plan",
    "dose",
    "robust",
    "batch",
    "deliver",
    "compare_machines",
    "commission",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="ionbeam",
        description="Ion-beam therapy from the synchrotron to the patient.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"ionbeam.cli._{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ionbeam.cli._{name}":
                continue  # command not built yet
            raise
        module.register(subparsers)
    return parser


class _VersionAction(argparse.Action):
    """``--version``: the version is looked up only when asked for (start-up speed)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from ionbeam import __version__

        print(f"ionbeam {__version__}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ionbeam`` command; returns the exit status."""
    # OMP_WAIT_POLICY=passive is set when ionbeam is imported (ionbeam/__init__.py)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.handler(args) or 0)
    except IonbeamError as exc:
        message = " ".join(str(exc).split())
        print(f"ionbeam: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ionbeam: interrupted", file=sys.stderr)
        return 130


def _show_warning(message: Warning | str, *_: object, **__: object) -> None:
    """A warning on one line (``ionbeam: warning: …``), without the source line."""
    print(f"ionbeam: warning: {' '.join(str(message).split())}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
