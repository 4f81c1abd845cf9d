"""Proof by attack on whole waves: every question of a release at once, tied by the respondents,
by bases shared across the questions everyone answers, and by routing.

The attacker (tests/analysis/wave_attacker.py) holds every figure published for the wave. No
group's withheld number of respondents, and no withheld base of a group under `k`, may be
narrowed to fewer than `k` values; no option count of a group under `k` further than its lines
leave open anyway (so no answer of such a group is pinned, or ruled out, beyond what a shown
group of `k` or more says of all its members).
"""

from __future__ import annotations

import random

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.disclosure import (
    ALL,
    METHOD_GREEDY,
    METHOD_MILP,
    Links,
    TookTooLong,
    audit,
    suppress,
)
from analysis.results import tabulate
from tests.analysis.wave_attacker import Finding, Questionnaire, Wave, attack

RESPONDED = "#responded"
QUESTIONNAIRE = Questionnaire(
    options={
        "supervises": ["yes", "no"],
        "supervision_quality": ["good", "fair", "poor"],
        "agreement": ["yes", "no"],
        "recorded": ["always", "sometimes"],
    },
    everyone={"supervises", "agreement"},
    routed={"supervision_quality": ("supervises", ["yes"])},
)
"""`recorded` has a "not applicable" answer outside its base: its base is at most the group's
respondents."""
LINKS = Links(
    respondents=RESPONDED,
    routed_by={"supervision_quality": ["supervises"]},
    everyone={"supervises", "agreement"},
)


def answer(rng: random.Random, supervises: str | None = None) -> dict[str, str | None]:
    supervises = supervises or rng.choice(["yes", "no"])
    return {
        "supervises": supervises,
        "supervision_quality": rng.choice(["good", "fair", "poor"])
        if supervises == "yes"
        else None,
        "agreement": rng.choice(["yes", "yes", "no"]),
        "recorded": rng.choice(["always", "sometimes", "na"]),
    }


def wave_table(
    people: dict[tuple[str, str], int],
    wave: Wave,
    seed: int,
    supervisors: dict[str, int] | None = None,
) -> pd.DataFrame:
    """The exact table of a wave whose (team, role) cells have these many respondents, with
    random answers (but for how many in each team supervise, when given)."""
    rng = random.Random(seed)
    rows = []
    for (team, role), size in people.items():
        rows.append((team, role, RESPONDED, RESPONDED, size))
        for person in range(size):
            supervises = None
            if supervisors is not None:
                supervises = "yes" if person < supervisors[team] else "no"
            for question, option in answer(rng, supervises).items():
                if option is not None:
                    rows.append((team, role, question, option, 1))
    answers = (
        pd.DataFrame(rows, columns=["team", "role", "question", "option", "count"])
        .groupby(["team", "role", "question", "option"], as_index=False)["count"]
        .sum()
    )
    options = [(RESPONDED, RESPONDED, False, False)] + [
        (question, option, option in ("yes", "good", "always"), False)
        for question, choices in QUESTIONNAIRE.options.items()
        for option in choices
    ]
    options.append(("recorded", "na", False, True))
    frame = pd.DataFrame(options, columns=["question", "option", "positive", "excluded_from_base"])
    frame = frame.assign(label=frame["option"], position=frame.groupby("question").cumcount())
    return tabulate(
        answers,
        frame,
        teams=wave.teams,
        roles=wave.roles,
        linked_teams=wave.linked,
        team_by_role=wave.team_by_role,
    )


def leaks(truth: pd.DataFrame, published: pd.DataFrame, wave: Wave, k: int) -> list[Finding]:
    exact = truth.set_index(["question", "team", "role", "option"])["count"]
    bases = truth.drop_duplicates(["question", "team", "role"]).set_index(
        ["question", "team", "role"]
    )["base"]
    withheld = published.loc[published["withheld"]]
    hidden = {
        question: set(zip(rows["team"], rows["role"], strict=True))
        for question, rows in withheld.groupby("question")
    }
    found = []
    for finding in attack(published, wave):
        question, group = finding.question, finding.group
        small = bases[(question, *group)] < k
        if finding.option is None:
            need = k if question == RESPONDED or small else 0
        elif small:
            need = min(k, _open(exact, hidden[question], wave, question, group, finding.option))
        else:
            continue  # a complementary group: its counts matter as a way to a small group's
        if finding.width < need - 1e-6:
            found.append(finding)
    return found


def _open(
    exact: pd.Series, hidden: set[tuple[str, str]], wave: Wave, question: str, group, option: str
) -> int:
    """What the group's lines leave open of its count: the withheld count of its tightest line
    (through withheld totals, up to the overall). A hidden group can be pinned this far in any
    case: if the withheld groups of a line hold two "no" answers between them, none holds more."""
    tightest = int(exact[question, ALL, ALL, option])
    for total, parts in wave.sums:
        if group not in parts:
            continue
        if total in hidden:
            bound = _open(exact, hidden, wave, question, total, option)
        else:
            bound = sum(int(exact[question, p[0], p[1], option]) for p in parts if p in hidden)
        tightest = min(tightest, bound)
    return tightest


@st.composite
def waves(draw: st.DrawFn) -> tuple[dict[tuple[str, str], int], Wave, int, int]:
    teams = [f"t{i}" for i in range(draw(st.integers(2, 4)))]
    roles = [f"r{i}" for i in range(draw(st.integers(1, 2)))]
    linked = {"t0+t1": ["t0", "t1"]} if len(teams) >= 3 and draw(st.booleans()) else {}
    wave = Wave(teams, roles, draw(st.booleans()), linked, QUESTIONNAIRE, RESPONDED)
    people = {(t, r): draw(st.integers(0, 9)) for t in teams for r in roles}
    return people, wave, draw(st.sampled_from([3, 5])), draw(st.integers(0, 10_000))


@settings(max_examples=40, deadline=None)
@given(waves())
def test_no_release_gives_a_withheld_figure_away(
    example: tuple[dict[tuple[str, str], int], Wave, int, int],
) -> None:
    people, wave, k, seed = example
    truth = wave_table(people, wave, seed)
    published = suppress(truth, k=k, linked_teams=wave.linked, links=LINKS)
    assert leaks(truth, published, wave, k) == []


def _routing_wave() -> tuple[pd.DataFrame, Wave]:
    """Four teams of 10 or more; two of team t0's ten supervise."""
    sizes = {"t0": 10, "t1": 12, "t2": 11, "t3": 15}
    wave = Wave(list(sizes), ["all roles"], False, {}, QUESTIONNAIRE, RESPONDED)
    people = {(team, "all roles"): size for team, size in sizes.items()}
    supervisors = {"t0": 2, "t1": 6, "t2": 7, "t3": 9}
    return wave_table(people, wave, 1, supervisors), wave


def test_per_question_suppression_leaks_a_routed_base_that_linked_suppression_keeps() -> None:
    """Suppressed question by question, team t0's supervision questions are withheld (two
    answered them) but its answer to "do you supervise?" is shown: two said yes, which is the
    withheld base. Suppressed as one linked table, the routing answer is withheld with them."""
    truth, wave = _routing_wave()
    one_by_one = suppress(truth, k=5, links=Links(respondents=RESPONDED))
    found = leaks(truth, one_by_one, wave, 5)
    assert {(f.question, f.group, f.option) for f in found} >= {
        ("supervision_quality", ("t0", ALL), None)
    }
    assert next(f for f in found if f.option is None).width == 0
    linked = suppress(truth, k=5, links=LINKS)
    assert leaks(truth, linked, wave, 5) == []
    assert linked.loc[
        (linked["question"] == "supervises") & (linked["team"] == "t0"), "withheld"
    ].all()


def test_a_release_falls_back_to_the_next_smallest_when_the_programme_runs_out_of_time() -> None:
    truth, wave = _routing_wave()
    greedy = suppress(truth, k=5, links=LINKS, time_limit=0)
    assert greedy.attrs["suppression_method"] == METHOD_GREEDY
    assert leaks(truth, greedy, wave, 5) == []
    assert suppress(truth, k=5, links=LINKS).attrs["suppression_method"] == METHOD_MILP


def test_a_search_past_its_time_gives_up_and_decides_nothing() -> None:
    truth, _ = _routing_wave()
    with pytest.raises(TookTooLong):
        suppress(truth, k=5, links=LINKS, give_up_after=0)


def test_an_earlier_releases_withheld_groups_stay_withheld() -> None:
    truth, wave = _routing_wave()
    kept = [("agreement", "t3", ALL), ("agreement", "a team since gone", ALL)]
    again = suppress(truth, k=5, links=LINKS, withhold=kept)
    rows = again.loc[(again["question"] == "agreement") & (again["team"] == "t3")]
    assert rows["withheld"].all()
    assert leaks(truth, again, wave, 5) == []


def test_routing_through_a_question_the_table_lacks_links_nothing() -> None:
    truth, wave = _routing_wave()
    links = Links(
        respondents=RESPONDED,
        routed_by={"supervision_quality": ["supervises", "not asked this wave"]},
        everyone={"supervises", "agreement"},
    )
    assert leaks(truth, suppress(truth, k=5, links=links), wave, 5) == []


def test_a_count_pinned_only_through_the_respondents_cells_is_withheld() -> None:
    """Found by the generative test: with team × role cells and a split team, the respondents'
    cells bound a small cell's count in a question everyone answers more tightly than its own
    lines do. The linear programme in the release's search sees it, and withholds more."""
    people = {("t0", "r0"): 5, ("t0", "r1"): 5, ("t1", "r0"): 4, ("t1", "r1"): 8}
    people |= {("t2", "r0"): 4, ("t2", "r1"): 2, ("t3", "r0"): 0, ("t3", "r1"): 7}
    wave = Wave(
        ["t0", "t1", "t2", "t3"], ["r0", "r1"], True, {"t0+t1": ["t0", "t1"]}, QUESTIONNAIRE,
        RESPONDED,
    )  # fmt: skip
    truth = wave_table(people, wave, 9970)
    published = suppress(truth, k=3, linked_teams=wave.linked, links=LINKS)
    assert leaks(truth, published, wave, 3) == []


def test_the_audit_passes_a_release_and_says_what_is_wrong_with_a_tampered_one() -> None:
    truth, _ = _routing_wave()
    released = suppress(truth, k=5, links=LINKS)
    assert audit(truth, released, k=5, links=LINKS) == []

    def tampered(question: str, team: str, withheld: bool) -> list[str]:
        changed = released.copy()
        rows = (changed["question"] == question) & (changed["team"] == team)
        changed.loc[rows, "withheld"] = withheld
        return audit(truth, changed, k=5, links=LINKS)

    small = tampered("supervision_quality", "t0", False)  # two people's answers shown
    assert "supervision_quality: 1 groups under 5 shown" in small
    routing = tampered("supervises", "t0", False)  # the routed base shown again
    assert any("withholds other groups than supervises" in p for p in routing)
    assert any("can be narrowed too far" in p for p in routing)
    hidden_people = tampered(RESPONDED, "t3", True)
    assert any("number of respondents is withheld" in p for p in hidden_people)


def test_a_figure_under_a_withheld_total_can_be_anything() -> None:
    """Team t0 answered nobody: the cheapest pattern withholds a margin, and under it a
    withheld cell of the questions' is bounded by no shown figure at all (the programme finds
    its range unbounded, which is as wide as a range gets)."""
    people = {("t0", "r0"): 0, ("t0", "r1"): 0, ("t1", "r0"): 2, ("t1", "r1"): 5}
    wave = Wave(["t0", "t1"], ["r0", "r1"], True, {}, QUESTIONNAIRE, RESPONDED)
    truth = wave_table(people, wave, 4748)
    published = suppress(truth, k=3, links=LINKS)
    assert leaks(truth, published, wave, 3) == []
    ranges = attack(published, wave)
    assert any(finding.high == float("inf") for finding in ranges)
