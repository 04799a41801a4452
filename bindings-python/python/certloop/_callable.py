"""Runs a function registered with ``Certloop.register_ca``.

The native connector calls a :class:`Runner` on one of tokio's blocking threads with the GIL
held. A plain function is called there; a coroutine (``async def``) is run to completion on an
event loop owned by the runner (one daemon thread per registered function, started on first
use), so the call is safe from any thread, whether or not that thread runs a loop of its own,
and state the coroutine keeps on its loop (sessions, clients) survives between calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
import traceback
from types import TracebackType
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

# Exceptions a later retry can get past, as for script CAs (an exception may also carry a
# ``retryable`` attribute of its own).
RETRYABLE = (ConnectionError, TimeoutError)


class Runner:
    """Calls ``function(csr, common_name, args_dict)`` and waits for a coroutine's result."""

    def __init__(self, function: Callable[..., Any], timeout: Optional[float]) -> None:
        self._function = function
        self._timeout = timeout
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def __call__(self, csr: str, common_name: str, args: Dict[str, str]) -> Any:
        result = self._function(csr, common_name, args)
        if inspect.isawaitable(result):
            result = self._wait(result)
        return result

    def __repr__(self) -> str:
        # Never the function's repr: a functools.partial shows its bound arguments.
        return "Runner()"

    def _wait(self, awaitable: Awaitable[Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(_await(awaitable), self._event_loop())
        try:
            return future.result(self._timeout)
        except concurrent.futures.TimeoutError:
            if future.done():  # the coroutine raised a TimeoutError of its own
                raise
            future.cancel()
            raise TimeoutError(
                "no answer within %ss (timeout_seconds); the coroutine was cancelled" % self._timeout
            ) from None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="certloop-register-ca", daemon=True
                )
                thread.start()
                self._loop = loop
            return self._loop


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def describe(exc: BaseException, tb: Optional[TracebackType] = None) -> Tuple[str, str, str, bool]:
    """``(type name, message, traceback, retryable)`` of what the function raised; ``tb`` is
    its traceback when the exception does not carry it (pyo3 keeps it apart before 3.12)."""
    text = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
    retryable = bool(getattr(exc, "retryable", isinstance(exc, RETRYABLE)))
    return type(exc).__name__, str(exc), text, retryable
