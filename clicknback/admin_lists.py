"""Back-office change lists that stay fast on large tables (issue 7): an estimated row count
instead of COUNT(*) over millions of rows, foreign-key filters chosen by autocomplete instead of
a list of every merchant or user, and a date hierarchy built from the first and last date
instead of SELECT DISTINCT over every row."""

import calendar
import datetime as dt
import json

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.templatetags import admin_list
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.functional import cached_property

from clicknback.fields import parse_uuid

# Below this many rows (by the planner's estimate) a list is counted exactly: cheap, and the
# operator sees a true figure on filtered lists.
EXACT_COUNT_BELOW = 10_000


def estimated_count(queryset) -> int | None:
    """PostgreSQL's estimate of the rows `queryset` matches (EXPLAIN, no execution): for a whole
    table it is pg_class.reltuples scaled to the table's current size; with filters, the
    planner's selectivity estimate. None on other databases."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    plan = queryset.order_by().select_related(None).explain(format="json")
    return int(json.loads(plan)[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A change-list paginator that does not COUNT(*) large results: above EXACT_COUNT_BELOW
    estimated rows it uses the estimate (`is_estimate` is then true and the page footer says
    "about"). Past the true end a page is simply empty."""

    is_estimate = False

    @cached_property
    def count(self):
        estimate = estimated_count(self.object_list)
        if estimate is None or estimate < EXACT_COUNT_BELOW:
            return super().count
        self.is_estimate = True
        return estimate


class AutocompleteFilter(admin.SimpleListFilter):
    """A sidebar filter on one foreign-key value chosen with the admin's autocomplete: the
    operator types, the server searches the target's admin (its search_fields). Nothing is listed
    up front, so the filter costs nothing however many merchants or users exist.

    Subclasses set `title`, `parameter_name`, `source` ("app_label.Model.field", a foreign key to
    the model to pick; its admin must have search_fields) and `lookup` (the ORM filter the chosen
    primary key is given to)."""

    template = "admin/autocomplete_filter.html"
    source = ""
    lookup = ""

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.admin_site = model_admin.admin_site

    @classmethod
    def source_field(cls):
        from django.apps import apps

        app_label, model_name, field_name = cls.source.split(".")
        return apps.get_model(app_label, model_name)._meta.get_field(field_name)

    @classmethod
    def widget(cls, admin_site) -> AutocompleteSelect:
        field = cls.source_field()
        form_field = forms.ModelChoiceField(
            queryset=field.remote_field.model._default_manager.all(), required=False,
            widget=AutocompleteSelect(field, admin_site, attrs={"data-filter-parameter": cls.parameter_name}),
        )
        return form_field.widget

    @classmethod
    def media(cls, admin_site) -> forms.Media:
        return cls.widget(admin_site).media + forms.Media(
            js=["admin/js/jquery.init.js", "clicknback/admin/autocomplete_filter.js"]
        )

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        parsed = parse_uuid(value)
        if parsed is None:
            raise IncorrectLookupParameters(f"{self.parameter_name} must be an id.")
        return queryset.filter(**{self.lookup: parsed})

    def choices(self, changelist):
        self.rendered_widget = self.widget(self.admin_site).render(
            self.parameter_name, self.value(), attrs={
                "id": f"autocomplete_filter_{self.parameter_name}",
                "data-filter-query": changelist.get_query_string(remove=[self.parameter_name, "p"])[1:],
            },
        )
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
        }


class AutocompleteFiltersMixin:
    """Adds the scripts of the admin's AutocompleteFilter list filters to its pages and allows
    their parameters (Django checks every query parameter before the filters see them)."""

    def _autocomplete_filters(self):
        return [f for f in self.list_filter if isinstance(f, type) and issubclass(f, AutocompleteFilter)]

    @property
    def media(self):
        media = super().media
        for list_filter in self._autocomplete_filters():
            media += list_filter.media(self.admin_site)
        return media

    def lookup_allowed(self, lookup, value, request):
        return (any(lookup == f.parameter_name for f in self._autocomplete_filters())
                or super().lookup_allowed(lookup, value, request))


class LargeTableAdminMixin(AutocompleteFiltersMixin):
    """For change lists over tables that grow without bound: no full-table COUNT(*) (the
    "N total" figure), an estimated count above EXACT_COUNT_BELOW rows, and (template) a date
    hierarchy from the list's first and last dates. A custom change_list_template should extend
    "admin/large_change_list.html"."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    change_list_template = "admin/large_change_list.html"


class _DatesFromRange:
    """Stands in for a change list's queryset in Django's date hierarchy: its `dates()` and
    `datetimes()` list every year or month between the first and last row (one indexed MIN/MAX
    query) and every day of the chosen month (no query), instead of SELECT DISTINCT over every
    matching row. A period without rows is listed too and leads to an empty page."""

    def __init__(self, changelist):
        self._changelist = changelist
        self._queryset = changelist.queryset

    def aggregate(self, *args, **kwargs):
        return self._queryset.aggregate(*args, **kwargs)

    def datetimes(self, field_name, kind):
        params = self._changelist.params
        year, month = params.get(f"{field_name}__year"), params.get(f"{field_name}__month")
        if kind == "day" and year and month:  # chosen in the URL; the filter on the month has no index
            try:
                year, month = int(year), int(month)
                return [dt.date(year, month, day) for day in range(1, calendar.monthrange(year, month)[1] + 1)]
            except ValueError:  # month=13 and the like: no such month, nothing to list
                return []
        bounds = self._queryset.aggregate(first=Min(field_name), last=Max(field_name))
        first, last = bounds["first"], bounds["last"]
        if first is None:
            return []
        if isinstance(first, dt.datetime) and timezone.is_aware(first):
            first, last = timezone.localtime(first), timezone.localtime(last)
        if kind == "day":  # Django chose the month itself: every row lies in it
            first, last = _as_date(first), _as_date(last)
            return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
        if kind == "year":
            return [dt.date(year, 1, 1) for year in range(first.year, last.year + 1)]
        months, year, month = [], first.year, first.month
        while (year, month) <= (last.year, last.month):
            months.append(dt.date(year, month, 1))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months

    dates = datetimes


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


class _ChangeListWithRangeDates:
    """The change list as Django's date_hierarchy tag sees it, with `queryset` swapped."""

    def __init__(self, changelist):
        self._changelist = changelist
        self.queryset = _DatesFromRange(changelist)

    def __getattr__(self, name):
        return getattr(self._changelist, name)


def range_date_hierarchy(changelist) -> dict:
    """Django's date hierarchy context, with the periods taken from the first and last date."""
    return admin_list.date_hierarchy(_ChangeListWithRangeDates(changelist))
