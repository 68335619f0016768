"""The ``ionbeam`` command line (thin: parses arguments, calls the library, prints)."""

__all__: list[str] = []
