"""The one Jinja environment (``_ENV``) and the registry of helpers installed in it.

``_ENV`` is an ``ImmutableSandboxedEnvironment`` with strict but chainable undefined
values (:class:`_Undefined`, whose failures carry the name and owner an error message
may quote), key-only ``.`` and ``[]`` on mappings, only the allowlisted attributes and
methods of :mod:`.methods` (each method call checked by its rule), the guarded
operators, the allowlisted filters of :mod:`.filters`, ``range`` and ``dict``, no other
globals, and no template cache of its own (the compiler keeps one). It is built once,
at import, with the built-in helpers, and shared by every thread; afterwards only
:func:`register_helper` changes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import ChainableUndefined, Context, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from workfuse.templating.budget import _check_time, _timed
from workfuse.templating.errors import MAX_TEMPLATE_TOKENS, TemplateError
from workfuse.templating.filters import _guarded_filters
from workfuse.templating.guards import (
    _add,
    _binop,
    _bounded_dict,
    _bounded_range,
    _built,
    _check_format_spec,
    _concat_parts,
    _modulo,
    _multiply,
    _power,
    _slice_value,
)
from workfuse.templating.helpers import BUILTIN_HELPERS, _strict
from workfuse.templating.methods import _attribute_allowed, _is_value_method, _method_call
from workfuse.templating.text import _check_length, _text, _to_text

KNOWN_NAMES = frozenset({"nodes", "trigger", "env"})


class _UndefinedValue(UndefinedError):
    """An undefined value was used; carries what the message may name."""

    def __init__(self, name: Any, owner: Any, hint: str | None) -> None:
        super().__init__(hint or "undefined value")
        self.name, self.owner, self.hint = name, owner, hint


class _Undefined(ChainableUndefined, StrictUndefined):
    """Strict when used, chainable when read: ``a.b.c is defined`` works at any depth."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        raise _UndefinedValue(self._undefined_name, self._undefined_obj, self._undefined_hint)


# Jinja binds its operators (__str__, __iter__, __eq__...) to the base class's failure
# method; point them at ours so every failure carries the name and owner.
for _attr, _value in (*vars(Undefined).items(), *vars(StrictUndefined).items()):
    if _value is Undefined._fail_with_undefined_error and _attr not in vars(ChainableUndefined):
        setattr(_Undefined, _attr, _Undefined._fail_with_undefined_error)
del _attr, _value


class _IndexedStream(TokenStream):
    """A token stream that remembers the order of the tokens it hands out, and refuses
    more than ``MAX_TEMPLATE_TOKENS`` of them."""

    def __init__(self, tokens: Iterable[Token], name: str | None, filename: str | None) -> None:
        self.order: dict[int, int] = {}
        super().__init__(self._count(tokens), name, filename)

    def _count(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for index, token in enumerate(tokens):
            if index >= MAX_TEMPLATE_TOKENS:
                raise TemplateError(
                    f"the template has more than {MAX_TEMPLATE_TOKENS:,} tokens"
                    " (names, numbers, operators...): split it",
                    line=token.lineno,
                    kind="limit",
                )
            self.order[id(token)] = index
            yield token


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_concat_parts)

    def __init__(self) -> None:
        super().__init__(
            undefined=_Undefined,
            autoescape=False,
            finalize=_to_text,
            keep_trailing_newline=True,
            cache_size=0,
            auto_reload=False,
        )
        self.globals.clear()
        self.globals.update(range=_bounded_range, dict=_bounded_dict)
        self.filters.clear()
        self.filters.update(_guarded_filters())
        self.binop_table.update({"*": _multiply, "+": _add, "**": _power, "%": _modulo})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict or isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=attribute)
        if isinstance(obj, Undefined):
            return obj  # reading through an undefined value fails where it is used
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is dict or isinstance(obj, Mapping):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """The sandbox's rules, then the allowlist of :mod:`.methods`."""
        return super().is_safe_attribute(obj, attr, value) and _attribute_allowed(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return _binop(self.binop_table, operator, left, right)

    def slice_value(self, value: Any, start: Any, stop: Any, step: Any) -> Any:
        """``value[start:stop:step]`` (the compiler routes every slice here)."""
        return _slice_value(value, start, stop, step)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of type {type(obj).__name__!r} is not allowed"
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt, sandboxed, is_map = value.__self__, wrapped, value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_time()
            if is_map and len(args) == 1 and isinstance(args[0], Mapping):
                _check_format_spec(fmt, (), args[0])
            else:
                _check_format_spec(fmt, args, kwargs)
            return _built(sandboxed(*args, **kwargs), "the formatted text")  # type: ignore[no-any-return]

        return checked

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _check_time()
        if _is_value_method(obj):
            kwargs.pop("_loop_vars", None)  # what Jinja passes for pass_context callables
            kwargs.pop("_block_vars", None)
            return _method_call(obj, args, kwargs)
        return super().call(context, obj, *args, **kwargs)

    def guard_loop(self, context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
        """Every ``{% for %}`` iterates through this: the clock is read at every item."""
        return _timed(iterable)

    def concat_values(self, *parts: Any) -> str:
        """The ``~`` operator: values as text, size-checked before joining."""
        _check_time()
        texts = [_text(part) for part in parts]
        _check_length(sum(map(len, texts)), "the joined text")
        return _built("".join(texts), "the joined text")  # type: ignore[no-any-return]

    def _tokenize(
        self,
        source: str,
        name: str | None,
        filename: str | None = None,
        state: str | None = None,
    ) -> TokenStream:
        raw = self.lexer.tokeniter(source, name, filename, state)
        return _IndexedStream(self.lexer.wrap(raw, name, filename), name, filename)


_ENV = _Environment()
_HELPERS: dict[str, Callable[..., Any]] = {}


def _install_helper(name: str, fn: Callable[..., Any]) -> None:
    helper = _strict(fn)
    _ENV.filters[name] = helper
    _ENV.globals[name] = helper
    _HELPERS[name] = fn


for _name, _fn in BUILTIN_HELPERS.items():
    _install_helper(_name, _fn)
del _name, _fn
_RESERVED = frozenset(_ENV.filters) | frozenset(_ENV.globals) | KNOWN_NAMES


def register_helper(name: str, fn: Callable[..., Any], *, replace: bool = False) -> None:
    """Make ``fn`` available as filter ``x | name(...)`` and function ``name(x, ...)``.

    Refuses names that are not identifiers, the context names (``nodes``, ``trigger``,
    ``env``), and existing helpers, filters or globals unless ``replace=True``.
    Undefined arguments raise before ``fn`` is called. ``fn`` runs unsandboxed and
    outside the size limits: it must bound its own work. To show the user a message,
    raise :class:`TemplateError`; other exceptions are reported by type only (their
    text may quote data), except ``TypeError``, ``ZeroDivisionError`` and
    ``OverflowError``.
    """
    if not name.isidentifier():
        raise ValueError(f"helper name {name!r} is not an identifier")
    if name in KNOWN_NAMES:
        raise ValueError(f"{name!r} is a context variable, not a helper name")
    if not replace and (name in _RESERVED or name in _HELPERS):
        raise ValueError(f"a helper or filter named {name!r} exists; pass replace=True")
    _install_helper(name, fn)
