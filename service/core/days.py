"""The local days a client may name in a query or a body (windows of metrics, leaderboards, reward pools, CSV
exports): 2000-01-01 to 2999-12-31. The local midnights of year 1 or 9999, and the day before or after them,
fall outside what datetime and PostgreSQL can hold (a 500 before this check); no community has a day there.
"""

from __future__ import annotations

from datetime import date

from service.errors import FieldError, Problem

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
DAY_RANGE = f"{FIRST_DAY} to {LAST_DAY}"


def check_days(days: dict[str, date | None], source: str = "query") -> None:
    """400 `validation_failed` naming each day (by the name it was sent under) outside the range; None (not
    sent) passes."""
    outside = [
        FieldError(field=name, message=f"a day from {DAY_RANGE}", source=source)
        for name, day in days.items()
        if day is not None and not FIRST_DAY <= day <= LAST_DAY
    ]
    if outside:
        raise Problem("validation_failed", "day out of range", errors=outside)
