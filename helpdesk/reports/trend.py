"""The dashboard's daily CSAT line. One or two answers a day make a raw daily figure swing between
0 and 100 %; the line is the share of good answers over the last WINDOW days instead, drawn only
where that window holds at least MIN_ANSWERS answers. The answers of each day are shown beside it."""

from __future__ import annotations

from typing import Any

from helpdesk.reports.figures import GOOD_SCORES

WINDOW_DAYS = 7
MIN_ANSWERS = 5


def csat_trend(groups: list[dict[str, Any]], window: int = WINDOW_DAYS,
               minimum: int = MIN_ANSWERS) -> dict[str, list[Any]]:
    """From the per-day groups of `summaries`: answers per day, and the rolling CSAT in % (None
    where the window has fewer than `minimum` answers). The first days' windows start in the
    period (the figures before it are not loaded), so they fill up as the period goes on."""
    answers = [int(g["survey_responses"]) for g in groups]
    good = [sum(int(g["score_distribution"][str(s)]) for s in GOOD_SCORES) for g in groups]
    rolling: list[float | None] = []
    for i in range(len(groups)):
        lo = max(0, i - window + 1)
        n, ok = sum(answers[lo:i + 1]), sum(good[lo:i + 1])
        rolling.append(round(100 * ok / n, 1) if n >= minimum else None)
    return {"csat_answers": answers, "csat_rolling": rolling}
