"""Test-only helpers that must be importable by settings overrides."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with a small cost, for the test suite only."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1
