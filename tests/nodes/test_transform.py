"""The transform node: JavaScript and JSONata through ``execute``, with real engines."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any

import pytest

from tests.support.sandbox import BusySandbox
from workfuse.nodes import transform
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.transform import (
    ERROR_CODES,
    TransformNodeConfig,
    TransformNodeOutput,
    check_syntax,
    execute,
)
from workfuse.sandbox import pool

CONTEXT = NodeContext(
    execution_id="exec-1",
    node_id="shape",
    trigger={"source": "webhook", "data": {"n": 21, "items": ["a", "b"]}, "headers": {}},
    nodes={
        "fetch": {
            "status": 200,
            "body": {"items": [{"name": "pen", "price": 3}, {"name": "ink", "price": 12.5}]},
        }
    },
    env={"REGION": "eu"},
    secrets={"cred-1": "do-not-leak"},
)


def config(
    code: str, language: str = "javascript", timeout: int | None = None
) -> TransformNodeConfig:
    return TransformNodeConfig.model_validate(
        {"language": language, "code": code, "timeout": timeout}
    )


def run(cfg: TransformNodeConfig, context: NodeContext = CONTEXT) -> TransformNodeOutput:
    return asyncio.run(execute(cfg, context))


def fail(cfg: TransformNodeConfig) -> ExecutionError:
    with pytest.raises(ExecutionError) as caught:
        run(cfg)
    return caught.value


def test_the_spec_wires_the_executor_and_output_model() -> None:
    # Given the transform node type
    spec = transform.SPEC

    # Then it runs through this module's execute and declares its output model
    assert spec.execute is execute
    assert spec.output_model is TransformNodeOutput
    assert spec.config_model is TransformNodeConfig


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        ("javascript", "return trigger.data.n * 2", 42),
        ("javascript", "return nodes.fetch.body.items.map(i => i.price)", [3, 12.5]),
        ("javascript", "return {region: env.REGION}", {"region": "eu"}),
        ("jsonata", "$sum(nodes.fetch.body.items.price)", 15.5),
        ("jsonata", "trigger.data.n * 2", 42),
        ("jsonata", "nodes.fetch.body.items[price > 5].name", "ink"),
        ("jsonata", "env.REGION & '-1'", "eu-1"),
    ],
)
def test_both_languages_see_nodes_trigger_and_env(language: str, code: str, expected: Any) -> None:
    # Given a transform in either language reading the template context
    # When it executes
    output = run(config(code, language))

    # Then its result is the computed value
    assert output.result == expected


def test_javascript_logs_are_in_the_output() -> None:
    # Given JavaScript that logs
    output = run(config("console.log('n is', trigger.data.n); console.warn('w'); return 1"))

    # Then the output carries result and logs, serialised as the node's output
    assert output.model_dump() == {"result": 1, "logs": ["n is 21", "[warn] w"]}


def test_jsonata_has_no_logs_and_undefined_is_none() -> None:
    # Given a JSONata expression matching nothing
    output = run(config("nodes.missing.value", "jsonata"))

    # Then the result is None and the logs empty
    assert output.result is None
    assert output.logs == []


def test_javascript_undefined_is_none() -> None:
    # Given JavaScript returning nothing
    # Then the result is None
    assert run(config("const x = 1;")).result is None


def test_the_default_language_is_jsonata() -> None:
    # Given a config without a language
    cfg = TransformNodeConfig.model_validate({"code": "trigger.data.n + 1"})

    # When it executes
    # Then the code is read as JSONata
    assert run(cfg).result == 22


def test_secrets_are_not_visible_to_the_code() -> None:
    # Given code looking for the execution's secrets
    code = "return JSON.stringify([nodes, trigger, env]).includes('do-not-leak')"

    # When it executes
    # Then they are not in the context it sees
    assert run(config(code)).result is False


@pytest.mark.parametrize(
    ("cfg", "code", "fragment"),
    [
        (config("throw new Error('bad input')"), "TRANSFORM_ERROR", "Error: bad input (line 1"),
        (config("trigger.data.n = 1"), "TRANSFORM_ERROR", "TypeError"),
        (config("return 1 +;"), "TRANSFORM_SYNTAX", "line 1, column 11"),
        (config("while (true) {}", timeout=200), "TRANSFORM_TIMEOUT", "200 ms"),
        (
            config("let a = []; while (true) a.push(new Array(1e6).fill(1))"),
            "TRANSFORM_MEMORY",
            "memory",
        ),
        (config("return () => 1"), "TRANSFORM_INVALID_RESULT", "function"),
        (config("return 'x'.repeat(11 * 1024 * 1024)"), "TRANSFORM_OUTPUT_TOO_LARGE", "too large"),
        (config("$sum(nodes.a", "jsonata"), "TRANSFORM_SYNTAX", "S0203"),
        (config("$foo()", "jsonata"), "TRANSFORM_ERROR", "T1006"),
        (
            config("($f := function($n) { $f($n + 1) }; $f(0))", "jsonata", timeout=200),
            "TRANSFORM_TIMEOUT",
            "200 ms",
        ),
        (config("function($x) { $x }", "jsonata"), "TRANSFORM_INVALID_RESULT", "function"),
    ],
)
def test_failures_map_to_non_retryable_transform_codes(
    cfg: TransformNodeConfig, code: str, fragment: str
) -> None:
    # Given code that fails in one of the known ways
    # When it executes
    error = fail(cfg)

    # Then the node fails with the matching code, not retryable, naming the language
    assert error.code == code
    assert error.retryable is False
    assert fragment in error.message
    language = "JavaScript" if cfg.language == "javascript" else "JSONata"
    assert error.message.startswith(f"{language} transform failed: ")
    assert error.to_dict()["code"] == code


def test_an_oversized_context_is_refused() -> None:
    # Given a trigger payload over the input limit
    big = NodeContext(execution_id="e", node_id="n", trigger={"data": "x" * (11 * 1024 * 1024)})

    # When either language runs on it
    for language in ("javascript", "jsonata"):
        with pytest.raises(ExecutionError) as caught:
            asyncio.run(execute(config("trigger", language), big))

        # Then it fails before running, as too large
        assert caught.value.code == "TRANSFORM_INPUT_TOO_LARGE"


def test_every_sandbox_failure_kind_has_a_code() -> None:
    # Given the sandbox's failure kinds
    # Then each has a TRANSFORM_ code
    assert set(ERROR_CODES.values()) == {
        "TRANSFORM_SYNTAX",
        "TRANSFORM_ERROR",
        "TRANSFORM_TIMEOUT",
        "TRANSFORM_MEMORY",
        "TRANSFORM_INPUT_TOO_LARGE",
        "TRANSFORM_INVALID_RESULT",
        "TRANSFORM_OUTPUT_TOO_LARGE",
        "TRANSFORM_SANDBOX_CRASHED",
    }


def test_a_syntax_check_the_sandbox_cannot_answer_is_a_problem_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given sandbox processes that exit as soon as they start
    broken = pool.SandboxPool()
    monkeypatch.setattr(broken, "_command", lambda: [sys.executable, "-c", "raise SystemExit(3)"])
    monkeypatch.setattr(pool, "_default", broken)

    # When a JavaScript transform's config is checked
    problems = transform.check_config(config("return 'checked while broken'"))

    # Then the check reports why it could not be done, and a later check runs again
    assert [problem.message for problem in problems] == [
        "the code's syntax could not be checked: the sandbox process stopped"
        " (exit code 3); the next call starts a new one"
    ]
    monkeypatch.setattr(pool, "_default", None)
    assert transform.check_config(config("return 'checked while broken'")) == []


def test_a_sandbox_process_that_dies_under_a_transform_gives_a_retryable_error() -> None:
    # Given a JavaScript transform running in a sandbox process
    run(config("return 1"))
    busy = BusySandbox(pool.default_pool())

    async def killed_during_the_call() -> ExecutionError:
        task = asyncio.create_task(execute(config("for (;;) {}", timeout=20_000), CONTEXT))
        pid = await asyncio.to_thread(busy.wait)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ExecutionError) as caught:
            await task
        return caught.value

    # When that process is killed under the call
    error = asyncio.run(killed_during_the_call())

    # Then the node fails with a retryable error (another attempt gets a new process)
    assert error.code == "TRANSFORM_SANDBOX_CRASHED"
    assert error.retryable is True
    assert run(config("return trigger.data.n")).result == 21


def test_the_next_run_works_after_a_timeout_and_a_memory_bomb() -> None:
    # Given a JavaScript transform that timed out and one that exhausted memory
    fail(config("for (;;) {}", timeout=200))
    fail(config("let a = []; while (true) a.push(new Array(1e6).fill(1))"))

    # When ordinary transforms run next, on every worker
    async def main() -> list[Any]:
        outputs = await asyncio.gather(
            *(execute(config(f"return {n} * 2"), CONTEXT) for n in range(8))
        )
        return [o.result for o in outputs]

    # Then they all work
    assert asyncio.run(main()) == [n * 2 for n in range(8)]


def test_mixed_transforms_run_concurrently_without_blocking_the_loop() -> None:
    # Given JavaScript and JSONata transforms, one JavaScript busy for 300 ms
    async def main() -> tuple[list[Any], int]:
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        busy = "const end = Date.now() + 300; while (Date.now() < end) {} return 'busy'"
        outputs = await asyncio.gather(
            execute(config(busy), CONTEXT),
            *(execute(config(f"trigger.data.n + {n}", "jsonata"), CONTEXT) for n in range(4)),
            *(execute(config(f"return trigger.data.n - {n}"), CONTEXT) for n in range(4)),
        )
        done = True
        await task
        return [o.result for o in outputs], ticks

    # When they run together
    started = time.monotonic()
    results, ticks = asyncio.run(main())

    # Then each has its own result and the event loop kept ticking meanwhile
    assert results == ["busy", 21, 22, 23, 24, 21, 20, 19, 18]
    assert ticks >= 10
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("language", "code", "valid"),
    [
        ("javascript", "return trigger.data.n", True),
        ("javascript", "return trigger.data.n +;", False),
        ("jsonata", "$sum(nodes.a.b)", True),
        ("jsonata", "$sum(nodes.a.b", False),
    ],
)
def test_check_syntax_for_graph_validation(language: str, code: str, valid: bool) -> None:
    # Given a transform config
    # When its syntax is checked (nothing runs)
    message = check_syntax(config(code, language))

    # Then there is a message exactly when the code does not parse
    assert (message is None) is valid
