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
  ``joiner`` and ``namespace`` globals are refused with a :class:`TemplateError`.

Limits (constants in :mod:`.errors`, importable from here): source size, wall time
per render (checked at every call, every loop iteration and every output chunk; one
builtin operation on large data is not interrupted), output size, ``range`` size, and
the size of strings, lists and integers built by operators, string methods and filters
(checked before they are allocated).

Error messages name only what the template itself names (variables, keys, filters)
and types; they never include a value from the context.

Modules: :mod:`.errors` (errors and limits), :mod:`.text` (values as text, size
checks), :mod:`.helpers` (the built-in helpers), :mod:`.guards` (bounded operators,
methods and ``range``, the render clock), :mod:`.filters` (bounded filters),
:mod:`.environment` (the one Jinja environment, :func:`register_helper`),
:mod:`.parsing` (source to syntax tree, syntax error positions), :mod:`.compiler`
(compile, render, cache) and :mod:`.validation` (:func:`validate_template`). Besides
``__all__``, ``KNOWN_NAMES``, ``BUILTIN_HELPERS`` and the helper functions are
importable from here, as they were from the former single module.
"""

from __future__ import annotations

from workfuse.templating.compiler import CompiledTemplate, compile_template, render, render_value
from workfuse.templating.environment import _ENV as _ENV
from workfuse.templating.environment import _HELPERS as _HELPERS
from workfuse.templating.environment import KNOWN_NAMES as KNOWN_NAMES
from workfuse.templating.environment import register_helper
from workfuse.templating.errors import (
    CACHE_SIZE,
    MAX_INT_BITS,
    MAX_OUTPUT_CHARS,
    MAX_RANGE_ITEMS,
    MAX_RENDER_SECONDS,
    MAX_SEQUENCE_ITEMS,
    MAX_TEMPLATE_CHARS,
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
    "MAX_INT_BITS",
    "MAX_OUTPUT_CHARS",
    "MAX_RANGE_ITEMS",
    "MAX_RENDER_SECONDS",
    "MAX_SEQUENCE_ITEMS",
    "MAX_TEMPLATE_CHARS",
    "MAX_VALUE_CHARS",
    "MAX_WORDWRAP_CHARS",
    "CompiledTemplate",
    "TemplateError",
    "TemplateProblem",
    "compile_template",
    "register_helper",
    "render",
    "render_value",
    "validate_template",
]
