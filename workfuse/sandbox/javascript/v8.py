"""V8's one-time, process-wide initialisation, run when this module is first imported.

:mod:`.runner` imports this module, so importing it on the main thread initialises V8
there (a sandbox process does). Off the main thread nothing is initialised: a
``RuntimeWarning`` says so, and :class:`~.runner.JavaScriptRunner` tries again when
created.
"""

from __future__ import annotations

import threading
import warnings

from py_mini_racer import init_mini_racer

# V8 must be initialised on the main thread: initialised on another thread, creating
# isolates on further threads crashes the process (mini-racer 0.14, seen here twice; the
# second time, 2026-11-27, with V8 initialised on a thread that lived as long as the
# process: "[FATAL:partition_address_space.cc(243)] Check failed:
# !IsConfigurablePoolInitialized()", once in a CI run after passing locally). Doing it at
# import (about 80 ms, and about 40 MB of resident memory) makes that the case in a
# sandbox process (`python -m workfuse.sandbox.host`, on its main thread), the only
# WorkFuse process that imports this module: the app and the workers send their
# JavaScript there (workfuse.sandbox.pool), so they never pay for V8.
_v8_ready = False


def _initialise_v8() -> None:
    global _v8_ready
    if _v8_ready:
        return
    if threading.current_thread() is threading.main_thread():
        init_mini_racer(ignore_duplicate_init=True)
        _v8_ready = True
    else:
        warnings.warn(
            "workfuse.sandbox.javascript was first used off the main thread: import it "
            "on the main thread at start-up, or V8 may crash when isolates are created",
            RuntimeWarning,
            stacklevel=3,
        )


_initialise_v8()
