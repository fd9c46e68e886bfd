"""Strict parsing of query parameters (api.md §0.1): bad values are 400 with the parameter named."""

import datetime as dt

from clicknback.errors import ValidationFailed, violation
from clicknback.fields import ISO_DATE, parse_uuid

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class QueryReader:
    """Collects every violation of one request's query string, then raises them together."""

    def __init__(self, query_params):
        self.params = query_params
        self.violations: list[dict] = []

    def boolean(self, name: str) -> bool | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        self.violations.append(violation(name, "Must be true, false, 1 or 0."))
        return None

    def uuid(self, name: str):
        raw = self.params.get(name)
        if raw is None:
            return None
        parsed = parse_uuid(raw)
        if parsed is None:
            self.violations.append(violation(name, "Must be a UUID in the 36-character hyphenated form."))
        return parsed

    def date(self, name: str) -> dt.date | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        try:
            if not ISO_DATE.match(raw):
                raise ValueError
            return dt.date.fromisoformat(raw)
        except ValueError:
            self.violations.append(violation(name, "Must be a date in YYYY-MM-DD form."))
            return None

    def choice(self, name: str, allowed: list[str]) -> str | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        if raw not in allowed:
            self.violations.append(violation(name, f"Must be one of: {', '.join(allowed)}."))
            return None
        return raw

    def date_range(self, lower: str, upper: str) -> tuple[dt.date | None, dt.date | None]:
        """R-205: an inverted range names the lower bound's field."""
        start, end = self.date(lower), self.date(upper)
        if start and end and start > end:
            self.violations.append(violation(lower, f"Must not be after {upper}."))
        return start, end

    def done(self) -> None:
        if self.violations:
            raise ValidationFailed(self.violations)

    def pagination(self) -> None:
        """Offset/limit problems are reported together with the filters' (api.md §0.4)."""
        from clicknback.pagination import read_page_params

        try:
            read_page_params(self.params)
        except ValidationFailed as exc:
            self.violations.extend(exc.details["violations"])

    def validate_page(self) -> None:
        """Pagination problems plus everything read so far, raised together (400)."""
        self.pagination()
        self.done()


def within_utc_days(queryset, field: str, start_date: dt.date | None, end_date: dt.date | None):
    """Rows whose `field` (a datetime) falls in the inclusive UTC-day range (R-3); either bound
    may be missing."""
    if start_date is not None:
        queryset = queryset.filter(**{f"{field}__gte": dt.datetime.combine(start_date, dt.time.min, tzinfo=dt.UTC)})
    if end_date is not None and end_date < dt.date.max:  # the last representable day has no next day
        next_day = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        queryset = queryset.filter(**{f"{field}__lt": next_day})
    return queryset
