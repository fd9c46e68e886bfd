"""Offset/limit pagination with the `{"data", "pagination"}` shape (api.md §0.5, R-213)."""

import re

from django.conf import settings
from django.db.models.query import ModelIterable
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from clicknback.errors import ValidationFailed, violation

_DIGITS = re.compile(r"^[0-9]+$")  # used with fullmatch: "$" alone accepts a trailing newline
MAX_OFFSET = 2147483647


def read_page_params(query_params) -> tuple[int, int]:
    """Validated (offset, limit); a bad value is a 400, never clamped or defaulted."""
    problems = []
    offset, limit = 0, settings.DEFAULT_PAGE_SIZE
    raw_offset = query_params.get("offset")
    if raw_offset is not None:
        if not _DIGITS.fullmatch(raw_offset) or int(raw_offset) > MAX_OFFSET:
            problems.append(violation("offset", f"Must be an integer from 0 to {MAX_OFFSET}."))
        else:
            offset = int(raw_offset)
    raw_limit = query_params.get("limit")
    if raw_limit is not None:
        if not _DIGITS.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= settings.MAX_PAGE_SIZE:
            problems.append(violation("limit", f"Must be an integer from 1 to {settings.MAX_PAGE_SIZE}."))
        else:
            limit = int(raw_limit)
    if problems:
        raise ValidationFailed(problems)
    return offset, limit


# From this offset on a page is read in two steps (a "deferred join"): the ids of the page by
# the list's index alone, skipping `offset` index entries instead of `offset` whole rows, then
# those rows by primary key. Deep pages still cost O(offset), but index entries, not table rows.
DEFERRED_JOIN_OFFSET = 1000


def read_page(queryset, offset: int, limit: int) -> list:
    """Rows offset…offset+limit of the ordered `queryset`, in its order."""
    # Model rows only: a values() row may not carry its primary key to put the page back in order.
    if offset < DEFERRED_JOIN_OFFSET or getattr(queryset, "_iterable_class", None) is not ModelIterable:
        return list(queryset[offset : offset + limit])
    ids = list(queryset.values_list("pk", flat=True)[offset : offset + limit])
    if not ids:
        return []
    rows = {row.pk: row for row in queryset.filter(pk__in=ids).order_by()}
    return [rows[pk] for pk in ids if pk in rows]  # a row deleted in between is left out


class OffsetLimitPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        self.offset, self.limit = read_page_params(request.query_params)
        # api.md §0.5: the exact number of matching rows, on every page (so a list always costs the
        # same statements); each list filter has an index that answers it with an index-only scan.
        self.total = queryset.count()
        if self.offset >= self.total:
            return []
        return read_page(queryset, self.offset, self.limit)

    def get_paginated_response(self, data):
        return Response(
            {"data": data, "pagination": {"offset": self.offset, "limit": self.limit, "total": self.total}}
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["data", "pagination"],
            "properties": {
                "data": schema,
                "pagination": {
                    "type": "object",
                    "properties": {
                        "offset": {"type": "integer"},
                        "limit": {"type": "integer"},
                        "total": {"type": "integer"},
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            },
        ]


def paginated_response(request, queryset, serializer_class) -> Response:
    """One page of `queryset` rendered with `serializer_class`, in the api.md §0.5 shape."""
    paginator = OffsetLimitPagination()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def paginated_rows(request, queryset, render_row) -> Response:
    """Like paginated_response for a `values()` queryset on a hot read path: each row becomes its
    wire dict through a plain function instead of a serializer (issue 7: same shape, less CPU)."""
    paginator = OffsetLimitPagination()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response([render_row(row) for row in page])
