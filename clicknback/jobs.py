"""The shared loop of the batch jobs (rules.md §15): --once runs one pass; otherwise pass, sleep
--interval, repeat; SIGTERM/SIGINT finish the current item and exit 0."""

import signal
import threading
import time

# How often the sleep between passes looks at the stop flag: bounds how late a SIGTERM is noticed.
_SLEEP_SLICE_SECONDS = 0.2


class JobLoop:
    def __init__(self, *, interval: int):
        self.interval = interval
        # A plain attribute, not a threading.Event: the signal handler must take no lock. Event.set()
        # takes the Condition lock that Event.wait() may be holding in the interrupted main thread,
        # which deadlocks the worker instead of stopping it.
        self._stop = False

    def stop_requested(self) -> bool:
        return self._stop

    def request_stop(self) -> None:
        self._stop = True

    def _on_signal(self, signum, frame) -> None:
        self._stop = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(_SLEEP_SLICE_SECONDS, remaining))

    def run(self, one_pass, *, once: bool) -> None:
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        try:
            while not self._stop:
                one_pass()
                if once:
                    return
                self._sleep(self.interval)
        finally:
            # A caller that outlives the loop (call_command in a test, a shell) gets its Ctrl-C back.
            for signum, handler in previous.items():
                signal.signal(signum, handler)
