"""Limits on guessing (resume keys, access codes): wrong guesses per client and for the whole
service.

Counts are kept in memory only, for one minute; the client address is never written anywhere.
With several workers each keeps its own counts, so the effective limit is per worker.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from threading import Lock


class GuessLimiter:
    def __init__(
        self,
        *,
        per_client: int,
        overall: int,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window = window_seconds
        self.clock = clock
        self._clients: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = Lock()

    def blocked(self, client: str) -> bool:
        """Whether this client, or everyone together, guessed wrong too often this minute: then
        even a right code or key is refused until the minute is up."""
        with self._lock:
            self._forget_before(self.clock() - self.window)
            mine = self._clients.get(client, ())
            return len(mine) >= self.per_client or len(self._all) >= self.overall

    def missed(self, client: str) -> None:
        """Count a wrong guess. Right ones are not counted: a whole office behind one address
        may start the survey in the same minute."""
        now = self.clock()
        with self._lock:
            self._clients.setdefault(client, deque()).append(now)
            self._all.append(now)

    def _forget_before(self, cutoff: float) -> None:
        while self._all and self._all[0] < cutoff:
            self._all.popleft()
        for client in list(self._clients):
            tries = self._clients[client]
            while tries and tries[0] < cutoff:
                tries.popleft()
            if not tries:
                del self._clients[client]
