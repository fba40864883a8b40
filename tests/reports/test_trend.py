"""Issue 15: daily CSAT swung 0-100 % on one or two answers and showed no count. The line is a
rolling 7-day share, drawn only from 5 answers, with the answers of each day beside it."""

from __future__ import annotations

from typing import Any

from helpdesk.reports.trend import csat_trend


def day(good: int, bad: int) -> dict[str, Any]:
    return {"survey_responses": good + bad,
            "score_distribution": {"1": bad, "2": 0, "3": 0, "4": 0, "5": good}}


def test_one_answer_a_day_does_not_swing_the_line_and_each_day_shows_its_count() -> None:
    days = [day(1, 0), day(0, 1), day(1, 0), day(0, 1), day(1, 0), day(0, 0), day(0, 1), day(1, 0), day(9, 1)]
    trend = csat_trend(days)
    assert trend["csat_answers"] == [1, 1, 1, 1, 1, 0, 1, 1, 10]
    # Fewer than 5 answers in the window: no point (not 100 %, 0 %, 100 %, ...).
    assert trend["csat_rolling"][:4] == [None, None, None, None]
    assert trend["csat_rolling"][4] == 60.0            # 3 good of 5
    assert trend["csat_rolling"][6] == 50.0            # days 0-6: 3 of 6
    assert trend["csat_rolling"][7] == 50.0            # days 1-7: 3 of 6
    assert trend["csat_rolling"][8] == 80.0            # days 2-8: 12 of 15


def test_no_days_no_points() -> None:
    assert csat_trend([]) == {"csat_answers": [], "csat_rolling": []}
