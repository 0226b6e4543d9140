"""What every audit that solves with HiGHS (through highspy or scipy) shares, whichever folder it is in.

The disclosure audit, the biometric audit and the linkage audit each build their own LP or MIP; they
share the quieting of HiGHS's C++ banner, which a flag cannot turn off because the constructor prints
it before any option is set. A top-level private module, like `_withheld.py`, so that no audit folder
imports another folder's internals for it.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress


@contextmanager
def silent_stdout() -> Iterator[None]:
    """Standard output closed at the file-descriptor level (C and C++ writes included) for the block:
    a library's banner must not land in a table the user pipes elsewhere."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        with suppress(OSError, AttributeError):
            ctypes.CDLL(None).fflush(None)  # what the C library still buffers goes to /dev/null too
        os.dup2(saved, 1)
        os.close(saved)
