"""Keeping what is worked out from frozen things: a published version never changes, nor does
a release, so what is made from them alone can be kept and served again."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Generic, TypeVar

T = TypeVar("T")


class FrozenCache(Generic[T]):
    """The last `size` values by key, least recently used dropped first. The key must name
    everything the value is made from; two threads may make the same value at once, and the
    first one kept wins."""

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        made = make()
        with self._lock:
            kept = self._entries.setdefault(key, made)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return kept
