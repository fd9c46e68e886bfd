"""The shared loop of the batch jobs (rules.md §15): --once runs one pass; otherwise pass, sleep
--interval, repeat; SIGTERM/SIGINT finish the current item and exit 0."""

import signal
import threading


class JobLoop:
    def __init__(self, *, interval: int):
        self.interval = interval
        self._stop = threading.Event()

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _request_stop(self, signum, frame) -> None:
        self._stop.set()

    def run(self, one_pass, *, once: bool) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._request_stop)
            signal.signal(signal.SIGINT, self._request_stop)
        while not self._stop.is_set():
            one_pass()
            if once:
                return
            self._stop.wait(self.interval)
