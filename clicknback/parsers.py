"""R-207: JSON bodies are parsed strictly — numbers as Decimal, never float; only objects.
R-219: nested deeper than MAX_JSON_DEPTH levels → 400 VALIDATION_ERROR on `body`, before any field rule."""

import json
from decimal import Decimal

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser

MAX_JSON_DEPTH = 32
TOO_DEEP = f"Request body is nested deeper than {MAX_JSON_DEPTH} levels."


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON value")


class ExponentDecimal(Decimal):
    """A JSON number written with an exponent ("1e2", "5E-1"), which R-207 rejects as a decimal."""


def nesting_depth(data) -> int:
    """Levels of arrays/objects (a flat object is 1), counted without recursion."""
    deepest, pending = 0, [(data, 1)]
    while pending:
        value, level = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        pending.extend((child, level + 1) for child in children)
    return deepest


def _parse_number(text: str) -> Decimal:
    # str(Decimal("5e-1")) is "0.5": only the source text still shows the exponent.
    return ExponentDecimal(text) if "e" in text or "E" in text else Decimal(text)


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_float=_parse_number, parse_constant=_reject_constant)
        except RecursionError:
            # Thousands of levels (valid or not) exhaust the decoder's stack: too deep by far.
            raise ValidationError({"body": [TOO_DEEP]}) from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError("Request body is not valid JSON.") from exc
        if nesting_depth(data) > MAX_JSON_DEPTH:
            raise ValidationError({"body": [TOO_DEEP]})
        if not isinstance(data, dict):
            raise ParseError("Request body must be a JSON object.")
        return data
