"""One locked-down V8 isolate (:class:`_Isolate`), and reading V8's syntax errors.

An isolate is made, used and closed on one worker thread, whose event loop mini-racer
answers on. Making one sets V8's hard heap limit and runs the bootstrap (at most
``_BOOTSTRAP_TIMEOUT_S`` seconds); :meth:`_Isolate.run` bounds a call and the
microtasks it queued by one deadline. A syntax check compiles the code outside the
runner (at most :data:`~workfuse.sandbox.limits.CHECK_TIMEOUT_MS`) to get V8's line and column.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from py_mini_racer import (
    JSEvalException,
    JSOOMException,
    JSTimeoutException,
    MiniRacer,
)

from workfuse.sandbox import SandboxError
from workfuse.sandbox.javascript.bootstrap import (
    _BOOTSTRAP_JS,
    _LINE_OFFSET,
    MAX_COMPILED_FUNCTIONS,
    SOURCE_NAME,
)
from workfuse.sandbox.limits import CHECK_TIMEOUT_MS

_BOOTSTRAP_TIMEOUT_S = 30.0

_SYNTAX_MESSAGE_RE = re.compile(r"^[^\n]*?:(\d+): (SyntaxError: [^\n]*)\n([^\n]*)\n( *)\^")


class _Isolate:
    """One V8 isolate, locked down, with the runner installed.

    mini-racer delivers V8's answers through an asyncio event loop. Each worker thread
    has its own loop (``loop``), run only while the thread waits for V8, so a call costs
    one hop to V8's thread and back rather than two more through a separate loop thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, memory_limit: int) -> None:
        self.loop = loop
        self.racer: MiniRacer = loop.run_until_complete(_new_racer())
        try:
            self.racer.set_hard_memory_limit(memory_limit)
            source = _BOOTSTRAP_JS.replace("LINE_OFFSET", str(_LINE_OFFSET)).replace(
                "MAX_COMPILED", str(MAX_COMPILED_FUNCTIONS)
            )
            unfrozen = self._eval(f"JSON.stringify({source})", _BOOTSTRAP_TIMEOUT_S)
            if unfrozen != "[]":
                raise RuntimeError(f"could not freeze JavaScript intrinsics: {unfrozen}")
        except BaseException:
            self.racer.close()
            raise

    def _eval(self, code: str, timeout_s: float) -> Any:
        return self.loop.run_until_complete(self._eval_async(code, timeout_s))

    async def _eval_async(self, code: str, timeout_s: float) -> Any:
        try:
            async with asyncio.timeout(timeout_s):
                return await self.racer.eval_cancelable(code)
        except TimeoutError:  # cancelling the task made V8 terminate the script
            raise JSTimeoutException from None

    def run(self, call: str, timeout_s: float) -> str:
        """Evaluate ``call`` and wait for the microtasks it queued, within ``timeout_s``."""
        raw = self.loop.run_until_complete(self._run_async(call, timeout_s))
        if self.racer.was_hard_memory_limit_reached():
            raise JSOOMException("JavaScript memory limit reached")
        if not isinstance(raw, str):
            raise JSEvalException(f"unexpected runner result {raw!r}")
        return raw

    async def _run_async(self, call: str, timeout_s: float) -> Any:
        # Microtasks (promise callbacks) run after a script has returned its value. A
        # second evaluation, queued right behind the first, ends only once they have
        # run: waiting for both under one deadline keeps them inside the time limit.
        tasks = [
            asyncio.ensure_future(self.racer.eval_cancelable(call)),
            asyncio.ensure_future(self.racer.eval_cancelable("0")),
        ]
        try:
            async with asyncio.timeout(timeout_s):
                raw = await tasks[0]
                await tasks[1]
                return raw
        except TimeoutError:
            raise JSTimeoutException from None
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def syntax_error(self, code: str) -> SandboxError | None:
        """Compile ``code`` as the runner does, outside it, to get V8's error position."""
        body = '"use strict";\n' + code + f"\n//# sourceURL={SOURCE_NAME}"
        source = f"void new Function('nodes', 'trigger', 'env', {json.dumps(body)})"
        try:
            self._eval(source, CHECK_TIMEOUT_MS / 1000)
        except (JSTimeoutException, JSOOMException):
            raise
        except JSEvalException as error:
            return _parse_syntax_message(str(error), code)
        return None


async def _new_racer() -> MiniRacer:
    return MiniRacer()  # bound to the running loop: the worker thread's own


def _parse_syntax_message(text: str, code: str) -> SandboxError:
    match = _SYNTAX_MESSAGE_RE.match(text)
    if match is None:
        found = re.search(r"SyntaxError: [^\n]*", text)
        return SandboxError(found.group(0) if found else "SyntaxError", kind="syntax")
    line = int(match.group(1)) - _LINE_OFFSET
    column = len(match.group(4)) + 1
    message = match.group(2)
    lines = code.split("\n")
    if line > len(lines):  # found in the wrapper's closing lines: the code ended early
        return SandboxError(
            f"{message} (at the end of the code)",
            kind="syntax",
            line=len(lines),
            column=len(lines[-1]) + 1,
        )
    if line < 1:
        return SandboxError(message, kind="syntax")
    return SandboxError(
        f"{message} (line {line}, column {column})", kind="syntax", line=line, column=column
    )
