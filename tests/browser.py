"""Chromium for the back-office browser tests (Playwright for Python driving the OS package `chromium`;
Playwright's own browser download is not used, it is not reachable everywhere)."""

import os
import shutil

# Headless and quiet: no sandbox (CI runs as root), no GPU, no background updates or sync.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium",
              "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"]

NO_CHROMIUM = ("browser tests did not run: no Chromium found (looked at $CHROMIUM_PATH, "
               + ", ".join(CANDIDATES) + "). Install it: apt-get install chromium")
NO_PLAYWRIGHT = "browser tests did not run: the playwright package is not installed (pip install -r requirements-dev.txt)"


def chromium_path() -> str | None:
    """$CHROMIUM_PATH when set (None if it is not an executable), else the first system Chromium or
    Chrome found, else None."""
    if os.environ.get("CHROMIUM_PATH"):
        return os.environ["CHROMIUM_PATH"] if os.access(os.environ["CHROMIUM_PATH"], os.X_OK) else None
    for candidate in [*CANDIDATES, shutil.which("chromium") or ""]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_tests_required() -> bool:
    """BROWSER_TESTS=required (set by .ci/run): a missing browser fails the tests instead of skipping them."""
    return os.environ.get("BROWSER_TESTS", "").lower() == "required"


if __name__ == "__main__":  # `python -m tests.browser`: the Makefile's check; exit 1 when none is found
    import sys

    found = chromium_path()
    print(found or NO_CHROMIUM)
    sys.exit(0 if found else 1)
