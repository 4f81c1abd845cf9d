"""How many have responded so far, counted once a day.

A count read live moves the moment someone sends their answers, so a person seen to submit
gives away their team to anyone watching the figures. The counts are taken at the first look
of each day (or by `invitations count` from a nightly job) and read unchanged until the
next day, so no change can be tied to a submission.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.fieldwork.models import ProgressSnapshot
from app.reports.counts import respondent_counts


def progress_counts(
    *, session: Session, wave_id: int, today: dt.date
) -> tuple[dt.date, pd.DataFrame]:
    """The day the counts were taken, and responses per (`team`, `role`) as `respondents`:
    today's snapshot, taken now if there is none yet."""
    taken = _snapshot(session, wave_id)
    if taken is None or taken[0] < today:
        try:
            with session.begin_nested():
                take_snapshot(session=session, wave_id=wave_id, today=today)
        except IntegrityError:  # another worker took it at the same moment: read theirs
            pass
        taken = _snapshot(session, wave_id)
        assert taken is not None
    return taken


def take_snapshot(*, session: Session, wave_id: int, today: dt.date) -> None:
    counts = respondent_counts(session=session, wave_id=wave_id)
    session.execute(delete(ProgressSnapshot).where(ProgressSnapshot.wave_id == wave_id))
    rows = [
        {"wave_id": wave_id, "team": team, "role": role, "responses": int(count), "taken_on": today}
        for team, role, count in counts[["team", "role", "respondents"]].itertuples(index=False)
    ]
    # An empty wave still records the day it was counted on, as a row of no one.
    session.execute(
        insert(ProgressSnapshot),
        rows or [{"wave_id": wave_id, "team": "", "role": "", "responses": 0, "taken_on": today}],
    )


def _snapshot(session: Session, wave_id: int) -> tuple[dt.date, pd.DataFrame] | None:
    rows = session.execute(
        select(
            ProgressSnapshot.team,
            ProgressSnapshot.role,
            ProgressSnapshot.responses,
            ProgressSnapshot.taken_on,
        ).where(ProgressSnapshot.wave_id == wave_id)
    ).all()
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["team", "role", "respondents", "taken_on"])
    counted = frame[frame["team"] != ""]
    return frame["taken_on"].min(), counted.drop(columns="taken_on").reset_index(drop=True)
