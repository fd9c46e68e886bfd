"""Settings for the test suite: the production settings with fixed test secrets.

Tests run with DEBUG off, so the secrets must exist (R-214); these values never leave the suite.
"""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-at-least-32-bytes-long")
os.environ.setdefault("JWT_SIGNING_KEY", "test-jwt-signing-key-at-least-32-bytes-long!!")

from clicknback.settings import *  # noqa: E402,F403

STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405 — whitenoise warns at start-up when it is missing
