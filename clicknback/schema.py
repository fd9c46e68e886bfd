"""OpenAPI helpers: every endpoint documents its error statuses with their codes (api.md)."""

from collections import defaultdict
from decimal import Decimal as D

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorEnvelope = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        )
    },
)

AUTH_401 = (401, "INVALID_TOKEN, EXPIRED_TOKEN, USER_INACTIVE")
ADMIN_403 = (403, "FORBIDDEN")
VALIDATION_400 = (400, "VALIDATION_ERROR")


def error_responses(*entries: tuple[int, str]) -> dict:
    """{status: OpenApiResponse} for (status, "CODE_A, CODE_B") pairs; codes of one status merge."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for status_code, codes in entries:
        by_status[status_code].append(codes)
    return {
        status_code: OpenApiResponse(ErrorEnvelope, description="Error codes: " + ", ".join(codes))
        for status_code, codes in sorted(by_status.items())
    }


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents clicknback.authentication.BearerTokenAuthentication as HTTP bearer (JWT)."""

    target_class = "clicknback.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def strip_trailing_slashes(result, generator, request, public):
    """Routes accept both forms (api.md §0.1); the schema shows the canonical one, without '/'."""
    result["paths"] = {
        (path.rstrip("/") or "/"): operations for path, operations in result.get("paths", {}).items()
    }
    return result


# --- what the server enforces, said in the schema (issue 9: a client generated from it works) --------

# A viewset `list` action that answers one object, not a page.
NOT_A_LIST = {"/api/v1/users/me"}

PAGINATION_PARAMETERS = [
    {"name": "offset", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647, "default": 0}},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}},
]


def paginate_list_responses(result, generator, request, public):
    """Every list answers `{"data": [...], "pagination": {offset, limit, total}}` (api.md §0.5), not a
    bare array: each array-typed 200 of a GET becomes a `Paginated<Item>List` envelope, and the
    operation documents `offset` and `limit`."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Pagination"] = {
        "type": "object",
        "required": ["offset", "limit", "total"],
        "properties": {
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "total": {"type": "integer", "minimum": 0},
        },
    }
    for path, operations in result.get("paths", {}).items():
        operation = operations.get("get")
        if operation is None:
            continue
        content = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json")
        if not content or content.get("schema", {}).get("type") != "array":
            continue
        items = content["schema"]["items"]
        if path in NOT_A_LIST:
            content["schema"] = items
            continue
        name = "Paginated" + items["$ref"].rsplit("/", 1)[-1] + "List"
        schemas[name] = {
            "type": "object",
            "required": ["data", "pagination"],
            "properties": {"data": {"type": "array", "items": items},
                           "pagination": {"$ref": "#/components/schemas/Pagination"}},
        }
        content["schema"] = {"$ref": f"#/components/schemas/{name}"}
        parameters = operation.setdefault("parameters", [])
        present = {(p.get("name"), p.get("in")) for p in parameters}
        parameters.extend(p for p in PAGINATION_PARAMETERS if (p["name"], p["in"]) not in present)
    return result


NO_NUL = r"^[^\x00]*$"  # DRF refuses NUL in every text field; PostgreSQL could not store it
UUID_36 = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# the syntax Django's EmailValidator accepts, ASCII only, surrounding whitespace trimmed.
EMAIL = (r"^\s*[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*"
         r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z][A-Za-z-]{0,61}[A-Za-z]|xn--[A-Za-z0-9]{1,59})"
         r"\s*$")


def _integers_below(bound: int, *, nonzero: bool) -> str:
    """A regex for the integers 0 (or 1) … bound − 1, for bounds of the form d·10^m (20, 10000, …)."""
    digits = str(bound)
    lead, zeros = int(digits[0]), len(digits) - 1
    if digits[1:] != "0" * zeros:
        raise ValueError(f"{bound} is not of the form d·10^m")
    parts = [f"[1-9][0-9]{{0,{zeros - 1}}}" if zeros else "[1-9]"] if zeros else []
    if lead > 1:
        parts.append(f"[1-{lead - 1}][0-9]{{{zeros}}}")
    if not nonzero:
        parts.append("0")
    return "(" + "|".join(parts) + ")"


def money_pattern(minimum, maximum) -> str:
    """The numeric strings MoneyField accepts in [minimum, maximum] (minimum 0 or 0.01, maximum an
    integer d·10^m): plain notation, leading zeros allowed, at most two decimals, "-0" only where 0 is."""
    top = int(maximum)
    fraction = r"(\.[0-9]{1,2})?"
    alternatives = [f"0*{_integers_below(top, nonzero=True)}{fraction}", f"0*{top}(\\.0{{1,2}})?"]
    if minimum > 0:
        alternatives.append(r"0+\.(0[1-9]|[1-9][0-9]?)")
    else:
        alternatives += [r"0+\.[0-9]{1,2}", r"-?0+(\.0{1,2})?"]
    return "^(" + "|".join(alternatives) + ")$"


def money_schema(minimum, maximum) -> dict:
    """api.md §0.1: a JSON number or a numeric string, at most two decimals, within the bounds."""
    return {
        "oneOf": [
            {"type": "number", "minimum": float(minimum), "maximum": float(maximum), "multipleOf": 0.01},
            {"type": "string", "pattern": money_pattern(minimum, maximum)},
        ],
        "description": f"Decimal from {minimum} to {maximum}, at most 2 places; a JSON number or a string.",
    }


# Bounds the serializers check outside the field itself (validate methods, services' term rules).
MONEY_BOUNDS = {
    ("MerchantCreateSerializer", "default_cashback_percentage"): ("0.00", "MAX_CASHBACK_PERCENTAGE"),
    ("OfferCreateSerializer", "cashback_value"): ("0.01", "OFFER_MAX_FIXED_CASHBACK"),
    ("OfferCreateSerializer", "monthly_cap"): ("0.01", "OFFER_MAX_MONTHLY_CAP"),
    ("PayoutRequestSerializer", "amount"): ("0.01", "PAYOUT_MAX_AMOUNT"),
}


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "clicknback.fields.MoneyField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        from decimal import Decimal

        from django.conf import settings

        field = self.target
        minimum, maximum = field.min_value, field.max_value
        bounds = MONEY_BOUNDS.get((type(field.parent).__name__, field.field_name))
        if bounds is not None:
            minimum = Decimal(bounds[0]) if minimum is None else minimum
            maximum = getattr(settings, bounds[1]) if maximum is None else maximum
        return money_schema(minimum if minimum is not None else Decimal("0.00"),
                            maximum if maximum is not None else Decimal("1000000000"))


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "clicknback.fields.StrictCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["pattern"] = NO_NUL
        if self.target.allow_blank:
            schema["minLength"] = 1  # "" is the schema's other, blank alternative (oneOf)
        return schema


class NameFieldSchema(StrictCharFieldSchema):
    """R-208: trimmed, then 1…255 characters: at least one that is not whitespace."""

    target_class = "clicknback.fields.NameField"
    priority = 1

    def map_serializer_field(self, auto_schema, direction):
        schema = super().map_serializer_field(auto_schema, direction)
        schema["pattern"] = r"^[^\x00]*[^\s\x00][^\x00]*$"
        return schema


class EmailFieldSchema(StrictCharFieldSchema):
    target_class = "accounts.serializers.EmailField"
    priority = 1

    def map_serializer_field(self, auto_schema, direction):
        schema = super().map_serializer_field(auto_schema, direction)
        schema.update({"pattern": EMAIL, "maxLength": 254})  # the pattern is exact; `format: email` is not
        return schema


class StrictUUIDFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "clicknback.fields.StrictUUIDField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["pattern"] = UUID_36
        return schema


class StrictDateFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "clicknback.fields.StrictDateField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["pattern"] = ISO_DATE
        return schema


IDEMPOTENCY_KEY = {"type": "string", "pattern": r"^[\x21-\x7E]{1,255}$", "minLength": 1, "maxLength": 255}
STRONG_PASSWORD = r"^(?=[^\x00]*[A-Z])(?=[^\x00]*[a-z])(?=[^\x00]*[0-9])(?=[^\x00]*[^A-Za-z0-9\x00])[^\x00]{8,}$"
LOWER_BOUNDS = {"start_date": "end_date", "date_from": "date_to"}  # OpenAPI 3.0 cannot relate two parameters
FLAG_KEY = {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$", "minLength": 1, "maxLength": 100}


def declare_dependent_fields(result, generator, request, public):
    """Rules where one field depends on another, as `oneOf` variants the server enforces exactly:
    an offer's cashback_value bound by its cashback_type (R-41), a flag's scope_id by its scope_type
    (R-163), a payout's external_reference only with `paid` (api.md §9); and the flag key's format
    (R-162) on every route that takes one."""
    schemas = result.get("components", {}).get("schemas", {})

    def variant(base: dict, **changes) -> dict:
        properties = {**base["properties"], **changes.pop("properties", {})}
        return {**{k: v for k, v in base.items() if k not in ("properties", "description")},
                "properties": properties, **changes}

    offer = schemas.get("OfferCreateRequest")
    if offer is not None:
        from django.conf import settings

        schemas["OfferCreateRequest"] = {"oneOf": [
            variant(offer, properties={"cashback_type": {"type": "string", "enum": ["percent"]},
                                       "cashback_value": money_schema(D("0.01"), settings.MAX_CASHBACK_PERCENTAGE)}),
            variant(offer, properties={"cashback_type": {"type": "string", "enum": ["fixed"]},
                                       "cashback_value": money_schema(D("0.01"), settings.OFFER_MAX_FIXED_CASHBACK)}),
        ], "description": "cashback_value: percent 0 < x ≤ 20.00, fixed 0 < x ≤ 10000.00 (R-41); "
                          "start_date ≥ today (UTC) and end_date ≥ start_date (R-43)."}
    flag = schemas.get("FlagSetRequest")
    if flag is not None:
        scope_id = {k: v for k, v in flag["properties"]["scope_id"].items() if k != "nullable"}
        schemas["FlagSetRequest"] = {"oneOf": [
            variant(flag, properties={"scope_type": {"type": "string", "enum": ["global"]},
                                      "scope_id": {"type": "string", "nullable": True, "enum": [None]}}),
            variant(flag, properties={"scope_type": {"type": "string", "enum": ["merchant", "user"]},
                                      "scope_id": scope_id},
                    required=sorted({*flag.get("required", []), "scope_type", "scope_id"})),
        ], "description": "scope_id: absent or null for global (the default), required for merchant/user "
                          "(else 422 FEATURE_FLAG_SCOPE_ID_REQUIRED, R-163)."}
    payout = schemas.get("PayoutStatusChangeRequest")
    if payout is not None:
        others = [s for s in schemas["PayoutStatusChangeStatusEnum"]["enum"] if s != "paid"]
        schemas["PayoutStatusChangeRequest"] = {"oneOf": [
            variant(payout, properties={"status": {"type": "string", "enum": ["paid"]}}),
            variant(payout, properties={"status": {"type": "string", "enum": others}},
                    **{"not": {"required": ["external_reference"]}}),
        ], "description": "external_reference only with status paid."}
    for component in schemas.values():
        for field in component.get("properties", {}).values():
            if field.get("format") == "email":
                del field["format"]  # emails are stored as registered; EMAIL above is the syntax checked
    payout_request = schemas.get("PayoutRequestRequest")
    if payout_request is not None:
        payout_request["properties"]["details"]["description"] = (
            "Stored as given: at most 2 KiB as compact UTF-8 JSON, no NUL character in any string or key, "
            "nested at most 32 levels (else 400 VALIDATION_ERROR, field details).")
    registration = schemas.get("RegistrationRequest")
    if registration is not None:
        registration["properties"]["password"].update(
            pattern=STRONG_PASSWORD, minLength=8,
            description="R-11: at least 8 characters with an uppercase and a lowercase ASCII letter, a digit and "
                        "a character that is neither (else 400 PASSWORD_NOT_COMPLEX_ENOUGH).")
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "key" and path.startswith("/api/v1/feature-flags"):
                    parameter["schema"] = dict(FLAG_KEY)
                if parameter["name"] == "Idempotency-Key" and parameter["in"] == "header":
                    parameter["schema"] = dict(IDEMPOTENCY_KEY)
                if parameter["in"] == "query" and parameter["name"] in LOWER_BOUNDS:
                    parameter["description"] = (f"Not after {LOWER_BOUNDS[parameter['name']]} "
                                                "(else 400 VALIDATION_ERROR on this field, R-205).")
                if (parameter["in"] == "query" and parameter["name"] == "scope_id"
                        and path == "/api/v1/feature-flags/{key}"):
                    parameter["description"] = ("Required for merchant/user (else 422 FEATURE_FLAG_SCOPE_ID_REQUIRED); "
                                                "must be absent for global (else 400).")
    return result
