"""Templates in node configs: the only place a Jinja environment is built.

A template sees the seed's ``TemplateContext``: ``nodes`` (outputs of finished nodes by
node id), ``trigger`` (the payload) and ``env`` (operator-allowlisted variables), plus
the helpers ``formatDate``, ``jsonParse``, ``jsonStringify``, ``uppercase``,
``lowercase`` and ``get`` (each usable as a filter or a function) and any helper added
with :func:`register_helper`.

Rules that differ from stock Jinja:

* A source that is exactly one ``{{ expression }}`` renders to the expression's native
  value (list, dict, number, ``None``...); anything else renders to a string. Native
  values are the context's own objects: treat them as read-only.
* In text, ``None`` renders as ``""``, booleans as ``true``/``false``, and lists, dicts
  and iterators as compact JSON (the same for ``~`` and the ``string`` filter).
* ``a.b`` and ``a['b']`` on a mapping read the key ``b`` only, never a dict method, so
  ``nodes.fetch.body.items`` is the ``items`` key. On other objects, safe attributes.
* Undefined values are strict: printing, comparing, iterating or testing one raises.
  ``x.y.z is defined`` and ``x.y.z | default(...)`` work at any depth.
* Sandbox (``ImmutableSandboxedEnvironment``): private and internal attributes, data
  mutation, ``include``/``import``/``extends`` and the ``lipsum``, ``cycler``,
  ``joiner`` and ``namespace`` globals are refused with a :class:`TemplateError`, and
  so is any attribute or method not on the allowlist of :mod:`.methods`.

Limits (constants in :mod:`.errors`, importable from here; the README's "Limits per
render" states them for users):

* source: ``MAX_TEMPLATE_CHARS``, ``MAX_TEMPLATE_TOKENS``, ``MAX_NESTING`` and
  ``MAX_EXPRESSION_DEPTH``; a source beyond them is a :class:`TemplateError` (syntax
  or limit) when it is compiled or validated, never a ``RecursionError``;
* time: ``MAX_RENDER_SECONDS`` of wall time per render, or per :func:`render_limits`
  scope (one node's templates share one). The clock is read at every call, filter,
  operator, output chunk and every few loop iterations or items a filter reads; only
  what is allowed runs in between, and all of it costs time linear (or ``n log n``)
  in bounded inputs, so a render overruns by milliseconds, not seconds;
* size of every value built, not only the output: text and bytes
  ``MAX_OUTPUT_CHARS``, lists and dicts ``MAX_SEQUENCE_ITEMS``, integers
  ``MAX_INT_BITS``, ``range`` ``MAX_RANGE_ITEMS``, a native result ``MAX_VALUE_CHARS``
  as JSON. Checked before allocation where the size is known in advance; operations
  that expand their input by a bounded factor (case mapping, escaping, encoding) take
  inputs of at most ``MAX_OUTPUT_CHARS`` and are checked as soon as they are built;
* memory: ``MAX_RENDER_BYTES`` for everything a render builds, even short-lived values;
* only allowlisted filters (:mod:`.filters`; ``urlize`` and ``pprint`` are refused) and
  allowlisted attributes and methods (:mod:`.methods`).

Error messages name only what the template itself names (variables, keys, filters)
and types; they never include a value from the context.

Modules: :mod:`.errors` (errors and limits), :mod:`.text` (values as text, size
checks), :mod:`.guards` (the render's limits: clock and memory budget; bounded
operators, slices and ``range``), :mod:`.helpers` (the built-in helpers),
:mod:`.methods` (allowed attributes and methods, each method's size rule),
:mod:`.filters` (allowlisted, bounded filters),
:mod:`.environment` (the one Jinja environment, :func:`register_helper`),
:mod:`.parsing` (source to syntax tree, syntax error positions), :mod:`.compiler`
(compile, render, cache) and :mod:`.validation` (:func:`validate_template`). Besides
``__all__``, ``KNOWN_NAMES``, ``BUILTIN_HELPERS`` and the helper functions are
importable from here, as they were from the former single module.
"""

from __future__ import annotations

from workfuse.templating.budget import render_limits
from workfuse.templating.compiler import CompiledTemplate, compile_template, render, render_value
from workfuse.templating.environment import _ENV as _ENV
from workfuse.templating.environment import _HELPERS as _HELPERS
from workfuse.templating.environment import KNOWN_NAMES as KNOWN_NAMES
from workfuse.templating.environment import register_helper
from workfuse.templating.errors import (
    CACHE_SIZE,
    MAX_EXPRESSION_DEPTH,
    MAX_INT_BITS,
    MAX_NESTING,
    MAX_OUTPUT_CHARS,
    MAX_RANGE_ITEMS,
    MAX_RENDER_BYTES,
    MAX_RENDER_SECONDS,
    MAX_SEQUENCE_ITEMS,
    MAX_TEMPLATE_CHARS,
    MAX_TEMPLATE_TOKENS,
    MAX_VALUE_CHARS,
    MAX_WORDWRAP_CHARS,
    TemplateError,
    TemplateProblem,
)
from workfuse.templating.helpers import BUILTIN_HELPERS as BUILTIN_HELPERS
from workfuse.templating.helpers import format_date as format_date
from workfuse.templating.helpers import get_path as get_path
from workfuse.templating.helpers import json_parse as json_parse
from workfuse.templating.helpers import json_stringify as json_stringify
from workfuse.templating.helpers import lowercase as lowercase
from workfuse.templating.helpers import uppercase as uppercase
from workfuse.templating.validation import validate_template

__all__ = [
    "CACHE_SIZE",
    "MAX_EXPRESSION_DEPTH",
    "MAX_INT_BITS",
    "MAX_NESTING",
    "MAX_OUTPUT_CHARS",
    "MAX_RANGE_ITEMS",
    "MAX_RENDER_BYTES",
    "MAX_RENDER_SECONDS",
    "MAX_SEQUENCE_ITEMS",
    "MAX_TEMPLATE_CHARS",
    "MAX_TEMPLATE_TOKENS",
    "MAX_VALUE_CHARS",
    "MAX_WORDWRAP_CHARS",
    "CompiledTemplate",
    "TemplateError",
    "TemplateProblem",
    "compile_template",
    "register_helper",
    "render",
    "render_limits",
    "render_value",
    "validate_template",
]
