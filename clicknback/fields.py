"""Strict serializer fields (R-207, R-212, api.md §0.1): no type coercion, Decimal money,
UUIDs only in their 36-character form."""

import datetime
import re
import unicodedata
import uuid
from decimal import Decimal, InvalidOperation

from rest_framework import serializers

from clicknback.parsers import ExponentDecimal

ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # calendar dates only: no ISO week or ordinal forms
_PLAIN_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_UUID_36 = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

TWO_PLACES = Decimal("0.01")


def parse_uuid(value) -> uuid.UUID | None:
    """The UUID in `value` if it is the 36-character hyphenated form (any case), else None."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str) and _UUID_36.fullmatch(value):  # not match: "$" accepts a trailing newline
        return uuid.UUID(value)
    return None


def normalize_name(value: str) -> str:
    """R-208: names are NFC-normalised, then trimmed."""
    return unicodedata.normalize("NFC", value).strip()


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (a number is a type error, not a string)."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be a boolean (true or false)."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictUUIDField(serializers.UUIDField):
    default_error_messages = {"invalid": "Must be a UUID in the 36-character hyphenated form."}

    def to_internal_value(self, data):
        parsed = parse_uuid(data)
        if parsed is None:
            self.fail("invalid")
        return parsed


class MoneyField(serializers.DecimalField):
    """A decimal with at most 2 places from a JSON number or a numeric string (api.md §0.1).

    JSON numbers arrive as Decimal (clicknback.parsers); exponent notation, NaN, Infinity,
    booleans and more than two decimals are rejected, never rounded (R-1).
    """

    default_error_messages = {
        "invalid": "Must be a decimal number in plain notation (e.g. \"10.50\").",
        "max_decimal_places": "Must have at most 2 decimal places.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            value = Decimal(data)
        elif isinstance(data, Decimal):
            if not data.is_finite() or isinstance(data, ExponentDecimal) or "E" in str(data).upper():
                self.fail("invalid")
            value = data
        elif isinstance(data, str):
            text = data  # no trimming, no "+", ASCII digits only
            if not _PLAIN_DECIMAL.fullmatch(text):
                self.fail("invalid")
            try:
                value = Decimal(text)
            except InvalidOperation:
                self.fail("invalid")
        else:
            self.fail("invalid")
        if -value.as_tuple().exponent > self.decimal_places:
            self.fail("max_decimal_places")
        if self.max_value is not None and value > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        if self.min_value is not None and value < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if value.adjusted() >= self.max_digits - self.decimal_places:
            self.fail("max_whole_digits", max_whole_digits=self.max_digits - self.decimal_places)
        # "-0.00" is "0.00": a sign on zero is not an amount.
        return value.quantize(TWO_PLACES).copy_abs() if value == 0 else value.quantize(TWO_PLACES)


class StrictChoiceField(serializers.ChoiceField):
    """One of the listed strings; a non-string is a type error."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class NameField(StrictCharField):
    """R-208: NFC-normalised, trimmed, then 1…max_length characters."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 255)
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        name = normalize_name(data)
        if not name:
            self.fail("blank")
        return super().to_internal_value(name)


class StrictDateField(serializers.DateField):
    """A `YYYY-MM-DD` string and nothing else (api.md §0.1)."""

    default_error_messages = {"invalid": "Must be a date in YYYY-MM-DD form."}

    def to_internal_value(self, data):
        if not isinstance(data, str) or not ISO_DATE.match(data):
            self.fail("invalid", format="YYYY-MM-DD")
        try:
            return datetime.date.fromisoformat(data)
        except ValueError:
            self.fail("invalid", format="YYYY-MM-DD")
