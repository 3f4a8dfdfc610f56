"""Name tables whose entries are imported on first use.

The command-line parser lists and checks dataset and task names before anything heavy (torch,
OpenCV) is imported, so a mistyped flag is answered at once; the class behind a name is imported
only when it is looked up.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any


class LazyRegistry(MutableMapping):
    """``{name: object}`` where an object may be given as ``"module:attribute"`` of ``package``.

    Assigning a name registers an object directly (e.g. a dataset class defined elsewhere).

    Args:
        package: the package the module paths are relative to, e.g. ``"pose3d.datasets"``.
        table: name -> ``"module:attribute"``, in the order ``--help`` lists the names.
    """

    def __init__(self, package: str, table: Mapping[str, Any]):
        self._package = package
        self._table = dict(table)

    def __getitem__(self, name: str) -> Any:
        entry = self._table[name]
        if not isinstance(entry, str):
            return entry
        module, attribute = entry.split(":")
        return getattr(importlib.import_module(f"{self._package}.{module}"), attribute)

    def __setitem__(self, name: str, value: Any) -> None:
        self._table[name] = value

    def __delitem__(self, name: str) -> None:
        del self._table[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"LazyRegistry({self._package!r}, {self._table!r})"
