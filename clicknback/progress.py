"""A progress line for long management commands, shown only on a terminal (issue 10).

    with Progress("seed_demo", total=1_000_000, unit="purchases", stream=self.stderr) as progress:
        for chunk in chunks:
            ...
            progress.advance(len(chunk))
    self.stdout.write("seed_demo: 1000000 purchases in 42.0s")   # the one summary line, always

On a TTY the line is redrawn in place (`\\r`), at most every `min_interval` seconds and by a ticker
thread every second so the elapsed time moves while one slow step runs; `close()` erases it. When the
stream is not a TTY (a pipe, a log file, a container's log driver) nothing at all is written, so logs
and pipes only see the command's own output.
"""

import sys
import threading
import time

_ERASE_LINE = "\r\x1b[K"


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


class Progress:
    def __init__(self, label: str, *, total: int | None = None, unit: str = "items", stream=None,
                 min_interval: float = 0.1, tick: float = 1.0):
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self.stream)
        self.done = 0
        self.phase = ""
        self.min_interval = min_interval
        self.tick = tick
        self._started = time.monotonic()
        self._last_drawn = 0.0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._ticker = None
        if self.enabled and tick > 0:
            self._ticker = threading.Thread(target=self._tick, name=f"progress-{label}", daemon=True)
            self._ticker.start()

    # --- what the command reports -------------------------------------------------------------------
    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def update(self, done: int, *, phase: str | None = None) -> None:
        self.done = done
        if phase is not None:
            self.phase = phase
        self._draw()

    def set_phase(self, phase: str) -> None:
        """What the command does now, for steps without a count ("reading the ledger")."""
        self.phase = phase
        self._draw(force=True)

    def counting_checks(self, should_stop):
        """Wraps a batch pass's `should_stop`, which the pass asks before claiming each item: every
        call after the first means one more item handled, and the line counts it."""
        calls = 0

        def counted() -> bool:
            nonlocal calls
            if calls:
                self.update(calls)
            calls += 1
            return should_stop()

        return counted

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def close(self) -> None:
        """Erase the line (the summary line the command prints next starts on a clean line)."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        if self.enabled:
            with self._lock:
                self._write(_ERASE_LINE)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # --- drawing --------------------------------------------------------------------------------------
    def render(self) -> str:
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        percent = f" ({100 * self.done // self.total}%)" if self.total else ""
        phase = f" {self.phase}" if self.phase else ""
        return f"{self.label}:{phase} {count} {self.unit}{percent}, {self.elapsed:.0f}s"

    def _draw(self, force: bool = False) -> None:
        if not self.enabled or self._closed.is_set():
            return
        now = time.monotonic()
        if not force and now - self._last_drawn < self.min_interval:
            return
        with self._lock:
            self._last_drawn = now
            self._write(_ERASE_LINE + self.render())

    def _tick(self) -> None:
        while not self._closed.wait(self.tick):
            self._draw(force=True)

    def _write(self, text: str) -> None:
        try:
            # Django's OutputWrapper appends "\n" unless told otherwise; a plain stream takes text as is.
            if hasattr(self.stream, "style_func"):
                self.stream.write(text, ending="")
            else:
                self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: progress is not worth failing over
            self.enabled = False
