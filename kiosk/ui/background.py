"""Run blocking calls (the core's API) off the UI thread and hand the result back to it.

Kivy draws and handles touches on one thread; a call to the core can take seconds (the
thermometer samples until steady) or hang until its timeout when the core restarts. So
screens never call the client themselves: they :meth:`Background.submit` a call with a
``done`` and a ``failed`` callback, and ``deliver`` (in the app: ``Clock.schedule_once``)
runs those on the UI thread, where widgets may be touched.

A guest who walks away mid-call must not have an old answer land on the next guest's
screen: each call remembers the session it was made in, and answers that arrive after
:meth:`Background.new_session` are dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

Deliver = Callable[[Callable[[], None]], None]


class Background:
    """A few worker threads whose results come back through ``deliver``.

    Args:
        deliver: Runs a no-argument callable on the UI thread, soon.
        workers: Threads; a slow thermometer reading must not delay the health poll.
        on_error: Called (on the UI thread) with every exception a call raised, before its
            own ``failed`` callback; the app uses it to notice that the core is gone.
    """

    def __init__(self, deliver: Deliver, *, workers: int = 3,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self._deliver = deliver
        self._on_error = on_error
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ui-call")
        self._lock = threading.Lock()
        self._session = 0

    @property
    def session(self) -> int:
        return self._session

    def new_session(self) -> None:
        """Forget every call in flight: their answers will not be delivered."""
        with self._lock:
            self._session += 1

    def submit(self, fn: Callable[..., Any], *args: Any,
               done: Callable[[Any], None] | None = None,
               failed: Callable[[BaseException], None] | None = None,
               session_bound: bool = True) -> Future:
        """Run ``fn(*args)`` on a worker; then ``done(result)`` or ``failed(exc)`` on the UI.

        ``session_bound=False`` delivers even after a new session (the app's own polls).
        """
        session = self._session

        def current() -> bool:
            return not session_bound or session == self._session

        def on_ui(future: Future) -> None:
            if not current():  # checked again here: a reset may come while this waits
                return
            exc = future.exception()
            if exc is None:
                if done is not None:
                    done(future.result())
            elif isinstance(exc, Exception):
                self._failed(exc, failed)

        def finished(future: Future) -> None:
            if current() and not future.cancelled():
                self._deliver(lambda: on_ui(future))

        future = self._pool.submit(fn, *args)
        future.add_done_callback(finished)
        return future

    def _failed(self, exc: BaseException, failed: Callable | None) -> None:
        if self._on_error is not None:
            self._on_error(exc)
        if failed is not None:
            failed(exc)
        elif self._on_error is None:
            log.warning("background call failed: %s", exc)

    def close(self) -> None:
        """Stop taking calls; calls in flight finish but deliver nothing."""
        self.new_session()
        self._pool.shutdown(wait=False, cancel_futures=True)
