"""R-207: JSON bodies are parsed strictly — numbers as Decimal, never float; only objects."""

import json
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON value")


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError("Request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise ParseError("Request body must be a JSON object.")
        return data
