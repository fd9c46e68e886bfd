"""Template tags of the large-table change lists (clicknback/admin_lists.py)."""

from django import template

from clicknback.admin_lists import range_date_hierarchy

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def date_hierarchy_from_range(changelist):
    """Django's date hierarchy, its periods taken from the first and last date of the list."""
    return range_date_hierarchy(changelist) or {}
