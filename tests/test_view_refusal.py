"""The filtered-view guard of the report service, on crafted respondent counts.

On real data the suppression of the respondent counts already withholds any group whose
remainder is small, so the remainder check never decides alone; here it must.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from analysis.disclosure import ALL
from app.reports import service
from app.reports.service import ViewRefused

WAVE = SimpleNamespace(key="2030", suppression_threshold=5)


def _counts(
    rows: list[tuple[str, str, int]], withheld: frozenset[tuple[str, str]] = frozenset()
) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"team": team, "role": role, "respondents": n, "withheld": (team, role) in withheld}
            for team, role, n in rows
        ]
    )


TEAM_ONLY = [("A", ALL, 10), ("B", ALL, 2), (ALL, ALL, 12)]
"""Team B's 2 are the wave less team A: nothing is flagged, so only the remainder refuses."""

CELLS = [
    ("A", "m", 10), ("A", "w", 3), ("A", ALL, 13),
    ("B", "m", 10), ("B", "w", 10), ("B", ALL, 20),
    (ALL, "m", 20), (ALL, "w", 13), (ALL, ALL, 33),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "withheld", "team", "role", "refused"),
    [
        (TEAM_ONLY, frozenset(), "A", None, True),
        ([("A", ALL, 10), ("B", ALL, 5), (ALL, ALL, 15)], frozenset(), "A", None, False),
        (CELLS, frozenset(), "B", None, False),
        (CELLS, frozenset(), "A", "m", True),  # team A less the cell is 3
        (CELLS, frozenset(), "B", "m", False),
        (CELLS, frozenset({("B", "m")}), "B", "m", True),  # flagged withheld
        (CELLS, frozenset(), None, "m", False),
    ],
)
def test_a_view_whose_remainder_is_under_k_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    rows: list[tuple[str, str, int]],
    withheld: frozenset[tuple[str, str]],
    team: str | None,
    role: str | None,
    refused: bool,
) -> None:
    crafted = _counts(rows, withheld)
    monkeypatch.setattr(service, "_respondents", lambda _session, _wave: crafted)
    check: Any = service._refuse_small_view
    if refused:
        with pytest.raises(ViewRefused, match="fewer than 5 people"):
            check(None, WAVE, team=team, role=role)
    else:
        check(None, WAVE, team=team, role=role)
