# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record: the base of the engine's small value classes, in place of ``dataclasses``.

A dataclass generates its ``__init__``, ``__repr__``, ``__eq__`` and ``__hash__`` with ``exec`` when its module
is imported: about a millisecond a class, paid at every start of a hook (the engine has ~15 of them on that
path). A Record subclass writes its ``__init__`` (fast per instance too) and names its fields; equality,
hashing, ``repr`` and ``replace`` come from here, compiled once into the bytecode cache."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

_R = TypeVar("_R", bound="Record")


class Record:
    """Fields in ``_fields`` (``__init__``'s order); ``_compared``: those equality and hashing look at, ``_shown``:
    those ``repr`` shows (default: all). Like a dataclass: equal when of the same class with equal compared fields; a subclass that may change
    sets ``__hash__ = None`` (unhashable, as a non-frozen dataclass), a frozen one keeps the hash of its fields."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _compared: ClassVar[tuple[str, ...] | None] = None
    _shown: ClassVar[tuple[str, ...] | None] = None  # the fields ``repr`` shows (default: all)

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._compared or self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__ and isinstance(other, Record):  # isinstance: for the type checker
            return self._key() == other._key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown or self._fields)
        return f"{self.__class__.__qualname__}({shown})"

    def replace(self: _R, **changes: Any) -> _R:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name in self._fields}
        if not changes.keys() <= values.keys():
            unknown = ", ".join(sorted(set(changes) - set(values)))
            raise TypeError(f"{self.__class__.__name__} has no field {unknown}")
        values.update(changes)
        return self.__class__(**values)  # type: ignore[call-arg]  # subclasses' __init__ takes the fields
