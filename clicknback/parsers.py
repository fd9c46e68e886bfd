"""R-207: JSON bodies are parsed strictly — numbers as Decimal, never float; only objects."""

import json
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON value")


class ExponentDecimal(Decimal):
    """A JSON number written with an exponent ("1e2", "5E-1"), which R-207 rejects as a decimal."""


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
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError("Request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise ParseError("Request body must be a JSON object.")
        return data
