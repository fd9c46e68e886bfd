"""Password hashing parameters (issue 7)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class OwaspArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with OWASP's recommended minimum (19 MiB, 2 iterations, parallelism 1) instead of
    Django's 100 MiB × 8 lanes: a login costs a fraction of the CPU and memory. It keeps the
    `argon2` algorithm name, so Django verifies hashes made with the old parameters and, because
    must_update() compares the parameters, re-hashes them at the user's next successful login."""

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
