"""ClickNBack settings: everything that varies between machines comes from the environment.

The defaults of ../shared/spec/rules.md §0 live here; README "Configuration" lists every variable.
"""

import secrets
from decimal import Decimal
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# without DEBUG the process refuses to start unless both secrets are set and long enough.
# with DEBUG and no secrets, random ones are made for this process (never a constant from the
# source: a deployment that forgot them must not be signing with a key anyone can read here).
# gunicorn.conf.py makes them once in the master, so every worker shares them.
SECRET_KEY = env.str("SECRET_KEY", default="")
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="")
for _name in ("SECRET_KEY", "JWT_SIGNING_KEY"):
    if len(globals()[_name].encode()) < 32:
        if not DEBUG:
            raise ImproperlyConfigured(
                f"{_name} must be set to a secret of at least 32 bytes when DEBUG is off "
                f"(set DEBUG=true for local development, or export {_name})."
            )
        globals()[_name] = secrets.token_urlsafe(48)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "clicknback.core",
    "clicknback.audit",
    "clicknback.flags",
    "accounts",
    "merchants",
    "offers",
    "purchases",
    "wallets",
    "payouts",
]

MIDDLEWARE = [
    "clicknback.middleware.RequestIdMiddleware",
    "clicknback.middleware.RequestObservationMiddleware",
    "clicknback.middleware.BodySizeLimitMiddleware",
    "clicknback.middleware.JsonErrorPagesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "clicknback.urls"
WSGI_APPLICATION = "clicknback.wsgi.application"
APPEND_SLASH = False  # api.md §0.1: both path forms are routed; nothing redirects.

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "clicknback" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite (a file in the project) for `make run`; PostgreSQL for tests and production.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Writers take the lock when their transaction starts, so concurrent writes serialize
    # instead of failing half-way with "database is locked".
    _db.setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
else:
    # Django's PostgreSQL backend with a health check that needs no round trip (clicknback/postgresql).
    _db["ENGINE"] = "clicknback.postgresql"
    _db.setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=2)
    if env.bool("DB_POOL", default=False):
        # psycopg 3 connection pool, per worker process (see README "Performance").
        from psycopg_pool import ConnectionPool

        from clicknback.postgresql.pool import grow_again

        _db["OPTIONS"]["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=8),
            # with the database down, a request waits no longer than the connect timeout for
            # its 503 (a gthread worker has fewer threads than connections: no wait otherwise) …
            "timeout": _db["OPTIONS"]["connect_timeout"],
            # … and once it is back, a connection broken by the outage is replaced when handed out, and
            # the pool is not asleep in a long reconnect backoff: it gives up an attempt after 1 s,
            # and the next request that needs a connection starts a new one at once.
            "check": ConnectionPool.check_connection,
            "reconnect_timeout": 1.0,
            # … and keeps trying after it gave up, so a request already waiting is served (clicknback/postgresql/pool.py).
            "reconnect_failed": grow_again,
        }
        _db["CONN_MAX_AGE"] = 0
    else:
        _db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
        _db["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared by every worker process. Throttles do not use it: they count in their own table with one
# atomic statement per check (clicknback.throttling, R-217).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "clicknback_cache",
    }
}

# --- Accounts -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Email uniqueness is case-insensitive: a unique index on Lower("email"), not unique=True.
# models.W040: on SQLite (`make run`) the list indexes simply lack their INCLUDE columns; PostgreSQL has them.
SILENCED_SYSTEM_CHECKS = ["auth.W004", "models.W040"]
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
PASSWORD_HASHERS = [
    # Argon2id at OWASP's parameters; older Argon2 hashes are upgraded at the next login.
    "accounts.hashers.OwaspArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# R-11 is enforced by accounts.policies (also used by the admin's password forms).
AUTH_PASSWORD_VALIDATORS = [{"NAME": "accounts.policies.ComplexityValidator"}]

ACCESS_TOKEN_LIFETIME_MINUTES = env.int("ACCESS_TOKEN_LIFETIME_MINUTES", default=15)
REFRESH_TOKEN_LIFETIME_MINUTES = env.int("REFRESH_TOKEN_LIFETIME_MINUTES", default=43200)

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "UPDATE_LAST_LOGIN": False,
}

# --- Business settings (rules.md §0) ----------------------------------------------------------


def env_money(name: str, default: str) -> Decimal:
    """A money/percentage setting, parsed as Decimal from its text (never through float)."""
    return Decimal(env.str(name, default=default)).quantize(Decimal("0.01"))


MAX_CASHBACK_PERCENTAGE = env_money("MAX_CASHBACK_PERCENTAGE", "20.00")
OFFER_MAX_FIXED_CASHBACK = env_money("OFFER_MAX_FIXED_CASHBACK", "10000.00")
OFFER_MAX_MONTHLY_CAP = env_money("OFFER_MAX_MONTHLY_CAP", "10000.00")
PURCHASE_MIN_AMOUNT = Decimal("0.01")
PURCHASE_MAX_AMOUNT = env_money("PURCHASE_MAX_AMOUNT", "1000000.00")
PURCHASE_CONFIRMATION_INTERVAL_SECONDS = env.int("PURCHASE_CONFIRMATION_INTERVAL_SECONDS", default=60)
PURCHASE_MAX_VERIFICATION_ATTEMPTS = env.int("PURCHASE_MAX_VERIFICATION_ATTEMPTS", default=3)
REJECTION_MERCHANT_ID = env.str("REJECTION_MERCHANT_ID", default="")
PAYOUT_MIN_AMOUNT = env_money("PAYOUT_MIN_AMOUNT", "10.00")
PAYOUT_MAX_AMOUNT = Decimal("1000000.00")
PAYOUT_MIN_INTERVAL_HOURS = env.int("PAYOUT_MIN_INTERVAL_HOURS", default=48)
PAYOUT_WEEKLY_LIMIT = env_money("PAYOUT_WEEKLY_LIMIT", "200.00")
PAYOUT_PROCESS_INTERVAL_SECONDS = env.int("PAYOUT_PROCESS_INTERVAL_SECONDS", default=60)
PAYOUT_STALE_PROCESSING_MINUTES = env.int("PAYOUT_STALE_PROCESSING_MINUTES", default=15)
PAYOUT_FAILURE_USER_ID = env.str("PAYOUT_FAILURE_USER_ID", default="")
PAYOUT_PROVIDER_CLASS = env.str("PAYOUT_PROVIDER_CLASS", default="payouts.providers.SimulatedProvider")
PAYOUT_SIMULATED_DELAY_SECONDS = env.float("PAYOUT_SIMULATED_DELAY_SECONDS", default=0.0)
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
PURCHASE_VERIFIER_CLASS = env.str("PURCHASE_VERIFIER_CLASS", default="purchases.verification.SimulatedVerifier")
DEFAULT_PAGE_SIZE = env.int("DEFAULT_PAGE_SIZE", default=10)
MAX_PAGE_SIZE = env.int("MAX_PAGE_SIZE", default=100)
WEBHOOK_SECRET_GRACE_HOURS = env.int("WEBHOOK_SECRET_GRACE_HOURS", default=24)
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", default=300)
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=65536)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

THROTTLING_ENABLED = env.bool("THROTTLING_ENABLED", default=True)
# THROTTLE_RATES="login_ip=20/min,refresh_ip=60/min" overrides the named scopes, keeps the rest.
THROTTLE_RATES = {
    "login_ip": "10/min",
    "login_email": "5/min",
    "register_ip": "5/min",
    "refresh_ip": "30/min",
    "ingest_user": "60/min",
    "payout_user": "10/hour",
    **env.dict("THROTTLE_RATES", default={}),
}

# --- HTTP -----------------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=["https://clicknback.com"])
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After", "Idempotent-Replayed"]
# Browser clients may send the payout Idempotency-Key and their own request id.
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key", "x-request-id")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["clicknback.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["clicknback.permissions.RolePermission"],
    "DEFAULT_PARSER_CLASSES": ["clicknback.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "clicknback.pagination.OffsetLimitPagination",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "clicknback.negotiation.IgnoreAcceptNegotiation",
    "DEFAULT_METADATA_CLASS": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "clicknback.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "DATE_FORMAT": "%Y-%m-%d",
    "COERCE_DECIMAL_TO_STRING": True,
    # Client IPs for throttling: REMOTE_ADDR unless this many reverse proxies add X-Forwarded-For.
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ClickNBack API",
    "DESCRIPTION": "Cashback platform backend. Every error answers with "
    '`{"error": {"code", "message", "details"}}`; money is a string with two decimals.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "CashbackTypeEnum": "offers.models.CashbackType",
        "ActiveStatusEnum": ["active", "inactive"],
        "PurchaseStatusEnum": "purchases.models.PurchaseStatus",
        "CashbackStatusEnum": "wallets.models.CashbackStatus",
        "RoleEnum": "accounts.models.Role",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "clicknback.schema.strip_trailing_slashes",
        "clicknback.schema.paginate_list_responses",
        "clicknback.schema.declare_dependent_fields",
    ],
    # PATCH bodies here are commands (status changes, reversal), not partial updates: their
    # required fields stay required in the schema.
    "COMPONENT_SPLIT_PATCH": False,
}

# --- i18n / time (R-3: UTC everywhere) --------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files: served by the app itself (whitenoise), no CDN -------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security headers when served for real --------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])


def _proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """"X-Forwarded-Proto=https" → ("HTTP_X_FORWARDED_PROTO", "https"); "" → None."""
    if not value:
        return None
    name, separator, expected = value.partition("=")
    if not separator or not name.strip() or not expected.strip():
        raise ImproperlyConfigured(f"SECURE_PROXY_SSL_HEADER must look like 'X-Forwarded-Proto=https', not {value!r}.")
    return "HTTP_" + name.strip().upper().replace("-", "_"), expected.strip()


# behind an HTTPS proxy (TRUSTED_PROXY_COUNT > 0, or SECURE_PROXY_SSL_HEADER named), requests
# the proxy marks as HTTPS are secure; then the session and CSRF cookies are Secure and HSTS is sent
# (Django's SecurityMiddleware sends it on secure requests only).
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(
    env.str("SECURE_PROXY_SSL_HEADER",
            default="X-Forwarded-Proto=https" if REST_FRAMEWORK["NUM_PROXIES"] > 0 else "")
)
SERVED_OVER_HTTPS = env.bool("SERVED_OVER_HTTPS", default=SECURE_PROXY_SSL_HEADER is not None)
SESSION_COOKIE_SECURE = SERVED_OVER_HTTPS
CSRF_COOKIE_SECURE = SERVED_OVER_HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SERVED_OVER_HTTPS else 0)

# --- Metrics: GET /metrics (Prometheus text format) only with this bearer token; off when empty -------
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Logging: every line of a request carries its X-Request-ID ------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "text" (readable, the default) or "json" (one JSON object per line, for a log shipper).
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {LOG_FORMAT!r}.")
# One line per request from the app (clicknback.access): on by default with JSON logs, where it replaces
# gunicorn's text access line (gunicorn.conf.py); with text logs gunicorn's access line is that line.
ACCESS_LOG = env.bool("ACCESS_LOG", default=LOG_FORMAT == "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "clicknback.logging.RequestIdFilter"},
        "drop_outage_tracebacks": {"()": "clicknback.outage.DropUnavailableTracebacks"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {"()": "clicknback.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "plain",
                    "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR", "propagate": True, "filters": ["drop_outage_tracebacks"]},
        "django.server": {"level": "WARNING", "propagate": True},
        "clicknback.access": {"level": "INFO" if ACCESS_LOG else "WARNING", "propagate": True},
    },
}
