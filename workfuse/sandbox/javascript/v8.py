"""V8's one-time, process-wide initialisation, done when the first sandbox is created.

Loading V8 costs about 40 MB of resident memory (its 74 MB library and its ICU data),
so a process that never runs JavaScript (a worker whose workflows use only JSONata, the
app with the Redis broker) never pays it: importing this package loads nothing.

V8 is initialised once and then serves isolates on any thread. It is initialised on a
thread that lives as long as the process: the main thread when the first sandbox is
created there, otherwise a dedicated daemon thread that initialises V8 and then waits
for ever (the first JavaScript node usually runs on a worker thread, which may end).
"""

from __future__ import annotations

import threading

from py_mini_racer import init_mini_racer

_lock = threading.Lock()
_initialised = False


def v8_is_initialised() -> bool:
    """Whether this process has loaded and initialised V8."""
    return _initialised


def ensure_v8() -> None:
    """Initialise V8 once, on a thread that outlives every isolate; blocks until done.

    Raises what V8's initialisation raised (the next call tries again).
    """
    global _initialised
    if _initialised:
        return
    with _lock:
        if _initialised:
            return
        if threading.current_thread() is threading.main_thread():
            init_mini_racer(ignore_duplicate_init=True)
        else:
            _initialise_on_a_lasting_thread()
        _initialised = True


def _initialise_on_a_lasting_thread() -> None:
    failures: list[BaseException] = []
    done = threading.Event()

    def initialise_and_stay() -> None:
        try:
            init_mini_racer(ignore_duplicate_init=True)
        except BaseException as failure:
            failures.append(failure)
            return
        finally:
            done.set()
        threading.Event().wait()  # stays, as a main thread would

    threading.Thread(target=initialise_and_stay, name="v8-init", daemon=True).start()
    done.wait()
    if failures:
        raise failures[0]
