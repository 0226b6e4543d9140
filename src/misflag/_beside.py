"""Work beside the caller, on a thread of its own: a query while the command imports the rest of the audit
(`engine.PendingQuery`: DuckDB scans without the GIL), or the biometric audit's Python after its queries
(each operating point's inequality summaries, each grouping's EER intervals: numpy releases the GIL
there) while the caller builds the other rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Value = TypeVar("Value")


class Beside(Generic[Value]):
    """`call(*args)` on a thread of its own; `result()` waits for it and returns what it returned or
    raises what it raised. Where no thread can be started (a process limit), the call runs at once, in
    the caller, as a direct call would."""

    def __init__(self, call: Callable[..., Value], *args: Any, name: str = "misflag-rows") -> None:
        self._done = threading.Event()
        self._value: Value | None = None
        self._error: BaseException | None = None
        try:
            threading.Thread(target=self._run, args=(call, args), name=name, daemon=True).start()
        except RuntimeError:
            self._run(call, args)

    def _run(self, call: Callable[..., Value], args: tuple[Any, ...]) -> None:
        try:
            self._value = call(*args)
        except BaseException as error:  # handed to the caller of result(), whatever it is
            self._error = error
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the call has ended, waiting at most `timeout` seconds (None: until it has)."""
        return self._done.wait(timeout)

    def result(self) -> Value:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set whenever no error was
