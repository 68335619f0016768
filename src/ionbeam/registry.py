"""Registries: a name → implementation table, one per kind of thing that grows sideways.

Dose engines (:mod:`ionbeam.planning.engines`), RBE models
(:mod:`ionbeam.physics.radiobiology.registry`), objective types
(:mod:`ionbeam.planning.optimize.registry`) and machines
(:mod:`ionbeam.machine.registry`) each have one, and the CLI, the plan file and
``plan.json`` all look names up there, so that adding an implementation touches one
file. A registry is immutable (no global state to register into at run time); a
caller who wants more entries makes a new one with :meth:`Registry.with_entries`.
Looking up a name that is not there raises :class:`~ionbeam.errors.UnknownNameError`
listing the known ones (the way ``scipy.optimize.minimize`` refuses an unknown method).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Generic, TypeVar

from ionbeam.errors import UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


def _key(name: object) -> str:
    return str(name).strip().lower()


class Registry(Generic[T]):
    """Names (case-insensitive, surrounding blanks ignored) → implementations of one
    ``kind`` (the word used in error messages, e.g. ``"machine"``); ``aliases`` maps
    other spellings to registered names."""

    __slots__ = ("_aliases", "_entries", "kind")

    def __init__(
        self, kind: str, entries: Mapping[str, T], *, aliases: Mapping[str, str] | None = None
    ) -> None:
        table = {_key(name): value for name, value in entries.items()}
        if len(table) != len(entries) or not all(table):
            raise ValueError(f"{kind} registry: names must be distinct and not blank")
        links = {_key(alias): _key(name) for alias, name in (aliases or {}).items()}
        unknown = sorted(set(links.values()) - set(table))
        if unknown:
            raise ValueError(f"{kind} registry: aliases point to unregistered names {unknown}")
        self.kind = kind
        self._entries: Mapping[str, T] = MappingProxyType(table)
        self._aliases: Mapping[str, str] = MappingProxyType(links)

    @property
    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def canonical(self, name: object) -> str:
        """The registered name that ``name`` means (``UnknownNameError`` if none)."""
        key = _key(name)
        key = self._aliases.get(key, key)
        if key not in self._entries:
            raise UnknownNameError(self.kind, name, self.names)
        return key

    def __getitem__(self, name: object) -> T:
        return self._entries[self.canonical(name)]

    def __contains__(self, name: object) -> bool:
        key = _key(name)
        return self._aliases.get(key, key) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        """(name, implementation) pairs in registration order."""
        return iter(self._entries.items())

    def with_entries(self, entries: Mapping[str, T]) -> Registry[T]:
        """A new registry with ``entries`` added (or replacing those of the same name)."""
        return Registry(self.kind, {**self._entries, **entries}, aliases=self._aliases)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={list(self.names)})"
