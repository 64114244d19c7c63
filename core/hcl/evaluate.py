"""HCL expressions evaluated in-process, as Terraform would: constants in defaults, conditions on form values.

One recursive-descent evaluator serves both uses. It computes literals, operators, ``? :``, indexing, ``for``
expressions and the common pure functions (``length``, ``can``, ``try``, ``regex``, ``contains``, ``startswith``,
``alltrue``, ``tonumber``, ``cidrhost``...) over the variables it is given. Whatever else an expression uses
(another variable, ``local``, a function not listed, a template, a splat) cannot be evaluated here.

- :func:`constant_value`: a variable's ``default`` (Terraform accepts any expression without references or
  function calls there: ``60 * 60`` is 3600), else NOT_LITERAL.
- :func:`evaluate_condition`: a ``validation`` condition with ``var.<name>`` bound, else :data:`UNKNOWN`, so the
  deploy form can check a value inside Slack's 3-second answer and leave the rest to Terraform at plan.

Semantics follow Terraform's: ``==`` compares type and value (``"1" == 1`` is false), arithmetic and ordering
convert strings to numbers, ``&&``/``||`` need bools, an error inside ``can()`` is false and an error outside
makes the condition fail (Terraform refuses the value too, with the function's error). Regular expressions
use Python's engine, which agrees with Terraform's RE2 on the patterns validations use; a pattern Python
cannot compile cannot be evaluated. Nothing here touches the network or runs module code.
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, Final

from core.hcl.lexer import LexError, Template, Token, tokenize
from core.hcl.tree import NOT_LITERAL, Value

_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4,
               "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None}
_MAX_DEPTH = 60
_MAX_ITEMS = 100_000


class Unknown:
    """The result of a condition this evaluator cannot decide."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()
"""A condition that cannot be evaluated here: Terraform checks it at plan."""


class _CannotEvaluate(Exception):
    """Something outside the supported subset: the whole condition is UNKNOWN (never caught by ``can``)."""


class _EvalError(Exception):
    """What Terraform reports as an error while evaluating (caught by ``can`` and ``try``)."""


def evaluate_condition(condition: str, variables: Mapping[str, Any]) -> bool | Unknown:
    """Whether ``condition`` holds with ``var.<name>`` bound to ``variables``; :data:`UNKNOWN` when it cannot be told.

    Args:
        condition: the condition's source text, as written in the ``validation`` block.
        variables: the values of the variables it may name, already converted to their types (JSON-like).

    Returns:
        True or False, or UNKNOWN. An error while evaluating (a failed ``regex``, a bad ``tonumber``) is False,
        as Terraform refuses such a value too.
    """
    try:
        tokens, _ = tokenize(condition)
    except (LexError, RecursionError):
        return UNKNOWN
    evaluator = _Evaluator([t for t in tokens if t[0] != "nl"], variables)
    try:
        result = evaluator.expression()
        if evaluator.peek() != "eof":
            return UNKNOWN
        return _to_bool(result)
    except _CannotEvaluate:
        return UNKNOWN
    except (_EvalError, RecursionError):
        return False


def constant_value(text: str) -> Value:
    """The value of one expression's source text without references or calls, or NOT_LITERAL when it has none."""
    try:
        tokens, _ = tokenize(text)
    except (LexError, RecursionError):
        return NOT_LITERAL
    evaluator = _Evaluator([t for t in tokens if t[0] != "nl"], {}, functions=False)
    try:
        value: Value = evaluator.expression()
        if evaluator.peek() != "eof":
            return NOT_LITERAL
    except (_CannotEvaluate, _EvalError, IndexError, RecursionError):
        return NOT_LITERAL
    return value


# -- values ------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _number(value: float) -> int | float:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _to_number(value: Any) -> int | float:
    if _is_number(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        try:
            number = float(value.strip()) if any(c in value for c in ".eE") else int(value.strip())
        except ValueError:
            raise _EvalError(f"cannot convert {value!r} to a number") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise _EvalError("not a finite number")
        return _number(number)
    raise _EvalError("a number is required")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise _EvalError("a bool is required")


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return str(_number(value))
    raise _EvalError("a string is required")


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def _collection(value: Any) -> list[Any] | dict[str, Any]:
    if isinstance(value, (list, dict)):
        return value
    raise _EvalError("a list, set, map or object is required")


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    raise _EvalError("a list is required")


def _map(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise _EvalError("a map or object is required")


def _arithmetic(op: str, left: Any, right: Any) -> int | float:
    a, b = _to_number(left), _to_number(right)
    if op == "+":
        return _number(a + b)
    if op == "-":
        return _number(a - b)
    if op == "*":
        return _number(a * b)
    if b == 0:
        raise _EvalError("division by zero")
    if op == "/":
        return _number(a / b) if not (isinstance(a, int) and isinstance(b, int) and a % b == 0) else a // b
    if isinstance(a, int) and isinstance(b, int):
        remainder = abs(a) % abs(b)
        return remainder if a >= 0 else -remainder
    return _number(math.fmod(a, b))


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "&&":
        return _to_bool(left) and _to_bool(right)
    if op == "||":
        return _to_bool(left) or _to_bool(right)
    if op in ("<", ">", "<=", ">="):
        a, b = _to_number(left), _to_number(right)
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
    return _arithmetic(op, left, right)


# -- functions -----------------------------------------------------------------------------------------


def _pattern(pattern: Any) -> re.Pattern[str]:
    """``pattern`` (RE2 syntax, as Terraform reads it) compiled by Python with RE2's meaning.

    RE2's digit, word, space and boundary classes are ASCII, and its end anchor (without the ``m`` flag) matches
    only at the very end; what Python reads differently (quoted literals, Unicode classes, RE2-only groups) is
    left to Terraform.
    """
    source = _to_string(pattern)
    multiline = re.search(r"\(\?[a-zA-Z]*m", source) is not None
    out: list[str] = []
    escaped = in_class = False
    for char in source:
        if escaped:
            if char in "QEpPCz":
                if char != "z":
                    raise _CannotEvaluate
                out.append("Z")
            else:
                out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif in_class:
            in_class = char != "]" or out[-1] == "[" or out[-2:] == ["[", "^"]
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "$" and not multiline:
            out.append(r"\Z")
        else:
            out.append(char)
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error:
        raise _CannotEvaluate from None


def _match_value(match: re.Match[str]) -> Any:
    named = match.groupdict()
    if named:
        return dict(named)
    if match.re.groups:
        return list(match.groups())
    return match.group()


def _regex(pattern: Any, text: Any) -> Any:
    match = _pattern(pattern).search(_to_string(text))
    if match is None:
        raise _EvalError("the pattern does not match")
    return _match_value(match)


def _regexall(pattern: Any, text: Any) -> list[Any]:
    return [_match_value(m) for m in _pattern(pattern).finditer(_to_string(text))]


def _length(value: Any) -> int:
    if isinstance(value, str):
        return len(_characters(value))
    if isinstance(value, (list, dict)):
        return len(value)
    raise _EvalError("length needs a string or a collection")


def _contains(collection: Any, item: Any) -> bool:
    return any(_equal(element, item) for element in _list(collection))


def _cidrhost(prefix: Any, host: Any) -> str:
    network = _network(prefix)
    number = _to_number(host)
    if not isinstance(number, int):
        raise _EvalError("the host number must be a whole number")
    index = number if number >= 0 else network.num_addresses + number
    if not 0 <= index < network.num_addresses:
        raise _EvalError("the host number is outside the prefix")
    return str(network.network_address + index)


def _network(prefix: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    text = _to_string(prefix)
    if "/" not in text:
        raise _EvalError("not a CIDR prefix")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _EvalError("not a CIDR prefix") from None


def _cidrnetmask(prefix: Any) -> str:
    network = _network(prefix)
    if network.version != 4:
        raise _EvalError("only IPv4 prefixes have a netmask")
    return str(network.netmask)


def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    found = _map(mapping)
    name = _to_string(key)
    if name in found:
        return found[name]
    if default:
        return default[0]
    raise _EvalError(f"no key {name!r}")


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise _EvalError("no non-null, non-empty argument")


def _characters(text: str) -> str:
    """``text``, when each of its code points is one character as Terraform counts them (grapheme clusters).

    Otherwise (combining marks, emoji sequences, CR LF) the condition is left to Terraform.
    """
    if "\r\n" in text or any(unicodedata.combining(c) or unicodedata.category(c) in ("Cf", "Mn", "Me", "Sk", "So")
                             for c in text if ord(c) > 0x2FF):
        raise _CannotEvaluate
    return text


def _substr(text: Any, offset: Any, length: Any) -> str:
    string, start, size = _characters(_to_string(text)), int(_to_number(offset)), int(_to_number(length))
    if start < 0:
        start += len(string)
    if not 0 <= start <= len(string):
        raise _EvalError("offset out of range")
    return string[start:] if size < 0 else string[start:start + size]


def _numbers(values: tuple[Any, ...]) -> list[int | float]:
    if not values:
        raise _EvalError("at least one number is required")
    return [_to_number(v) for v in values]


def _sorted_strings(values: Any) -> list[str]:
    return sorted(_to_string(v) for v in _list(values))


def _flatten(value: Any) -> list[Any]:
    flat: list[Any] = []
    for item in _list(value):
        flat += _flatten(item) if isinstance(item, list) else [item]
    return flat


def _distinct(value: Any) -> list[Any]:
    kept: list[Any] = []
    for item in _list(value):
        if not any(_equal(item, seen) for seen in kept):
            kept.append(item)
    return kept


def _keys(value: Any) -> list[str]:
    return sorted(_map(value))


def _values(value: Any) -> list[Any]:
    found = _map(value)
    return [found[k] for k in sorted(found)]


def _replace(text: Any, search: Any, replacement: Any) -> str:
    string, needle, new = _to_string(text), _to_string(search), _to_string(replacement)
    if len(needle) > 1 and needle.startswith("/") and needle.endswith("/"):
        return _pattern(needle[1:-1]).sub(re.sub(r"\$(\d+)", r"\\\1", new), string)
    return string.replace(needle, new)


def _index(collection: Any, item: Any) -> int:
    for position, element in enumerate(_list(collection)):
        if _equal(element, item):
            return position
    raise _EvalError("the item is not in the list")


def _element(collection: Any, index: Any) -> Any:
    items = _list(collection)
    if not items:
        raise _EvalError("element of an empty list")
    return items[int(_to_number(index)) % len(items)]


def _one(collection: Any) -> Any:
    items = _list(collection)
    if len(items) > 1:
        raise _EvalError("more than one element")
    return items[0] if items else None


def _tolist(value: Any) -> list[Any]:
    return _list(value)


def _tomap(value: Any) -> dict[str, Any]:
    return _map(value)


def _tostring(value: Any) -> str | None:
    return None if value is None else _to_string(value)


def _tonumber(value: Any) -> int | float | None:
    return None if value is None else _to_number(value)


def _tobool(value: Any) -> bool | None:
    return None if value is None else _to_bool(value)


def _merge(*maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for mapping in maps:
        if mapping is not None:
            merged.update(_map(mapping))
    return merged


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "length": _length,
    "regex": _regex,
    "regexall": _regexall,
    "contains": _contains,
    "startswith": lambda s, p: _to_string(s).startswith(_to_string(p)),
    "endswith": lambda s, p: _to_string(s).endswith(_to_string(p)),
    "strcontains": lambda s, p: _to_string(p) in _to_string(s),
    "alltrue": lambda items: all(_to_bool(v) for v in _list(items)),
    "anytrue": lambda items: any(_to_bool(v) for v in _list(items)),
    "tonumber": _tonumber,
    "tostring": _tostring,
    "tobool": _tobool,
    "tolist": _tolist,
    "toset": _distinct,
    "tomap": _tomap,
    "lower": lambda s: _to_string(s).lower(),
    "upper": lambda s: _to_string(s).upper(),
    "trimspace": lambda s: _to_string(s).strip(),
    "trimprefix": lambda s, p: _to_string(s).removeprefix(_to_string(p)),
    "trimsuffix": lambda s, p: _to_string(s).removesuffix(_to_string(p)),
    "trim": lambda s, chars: _to_string(s).strip(_to_string(chars)),
    "keys": _keys,
    "values": _values,
    "lookup": _lookup,
    "coalesce": _coalesce,
    "min": lambda *v: _number(min(_numbers(v))),
    "max": lambda *v: _number(max(_numbers(v))),
    "abs": lambda v: _number(abs(_to_number(v))),
    "floor": lambda v: math.floor(_to_number(v)),
    "ceil": lambda v: math.ceil(_to_number(v)),
    "signum": lambda v: (_to_number(v) > 0) - (_to_number(v) < 0),
    "substr": _substr,
    "split": lambda sep, s: _to_string(s).split(_to_string(sep)) if _to_string(sep) else list(_to_string(s)),
    "join": lambda sep, items: _to_string(sep).join(_to_string(v) for v in _list(items)),
    "replace": _replace,
    "distinct": _distinct,
    "flatten": _flatten,
    "concat": lambda *lists: [item for items in lists for item in _list(items)],
    "compact": lambda items: [v for v in _list(items) if v is not None and v != ""],
    "element": _element,
    "index": _index,
    "sort": _sorted_strings,
    "reverse": lambda items: list(reversed(_list(items))),
    "sum": lambda items: _number(sum(_numbers(tuple(_list(items))))),
    "one": _one,
    "merge": _merge,
    "cidrhost": _cidrhost,
    "cidrnetmask": _cidrnetmask,
    "nonsensitive": lambda v: v,
    "sensitive": lambda v: v,
}


# -- the evaluator ---------------------------------------------------------------------------------------


class _Evaluator:
    """A recursive-descent reader of an HCL expression that computes its value as it reads.

    ``can(...)`` and ``try(...)`` need their arguments unevaluated, so a call reads each argument with errors
    caught; the reading position always moves past the argument, error or not.
    """

    __slots__ = ("depth", "functions", "i", "scope", "tokens", "variables")

    def __init__(self, tokens: list[Token], variables: Mapping[str, Any], *, functions: bool = True) -> None:
        self.tokens, self.variables, self.functions = tokens, variables, functions
        self.scope: list[dict[str, Any]] = []
        self.i = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> str:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)][0]

    def take(self, kind: str) -> Token:
        token = self.tokens[self.i]
        if token[0] != kind:
            raise _CannotEvaluate
        self.i += 1
        return token

    def expression(self) -> Any:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _CannotEvaluate
        try:
            condition = self.binary(1)
            if self.peek() != "?":
                return condition
            self.i += 1
            yes = self.guarded()
            self.take(":")
            no = self.guarded()
            chosen = yes if _to_bool(condition) else no
            if isinstance(chosen, _EvalError):
                raise chosen
            return chosen
        finally:
            self.depth -= 1

    def guarded(self) -> Any:
        """An expression read in full; an evaluation error is returned (as the exception), not raised."""
        start = self.i
        try:
            return self.expression()
        except _EvalError as error:
            self.i = start
            self.skip_expression()
            return error

    def skip_expression(self) -> None:
        """Move past one expression (up to a comma, colon or closing bracket of the enclosing construct)."""
        depth = 0
        while self.peek() != "eof":
            kind = self.peek()
            if depth == 0 and kind in (",", ")", "]", "}", ":", "=>", "if"):
                return
            if kind in ("(", "[", "{"):
                depth += 1
            elif kind in (")", "]", "}"):
                depth -= 1
            self.i += 1

    def binary(self, lowest: int) -> Any:
        left = self.unary()
        while True:
            op = self.peek()
            precedence = _PRECEDENCE.get(op)
            if precedence is None or precedence < lowest:
                return left
            self.i += 1
            if op in ("&&", "||") and left is (op == "||"):  # decided by the left side, as Terraform does
                self.skip_operand_value(precedence + 1)
                continue
            left = _binary(op, left, self.binary(precedence + 1))

    def skip_operand_value(self, lowest: int) -> None:
        """Read the right side of a decided ``&&``/``||``; its errors do not count (Terraform skips it)."""
        start = self.i
        try:
            self.binary(lowest)
        except _EvalError:
            self.i = start
            self.skip_binary(lowest)

    def skip_binary(self, lowest: int) -> None:
        """Move past an operand and the operators of at least ``lowest`` precedence after it, evaluating nothing."""
        while self.peek() in ("-", "!"):
            self.i += 1
        kind = self.peek()
        if kind in ("(", "[", "{"):
            self.skip_balanced()
        elif kind == "name" and self.peek(1) == "(":
            self.i += 1
            self.skip_balanced()
        elif kind in ("name", "num", "str"):
            self.i += 1
        else:
            raise _CannotEvaluate
        while True:
            if self.peek() == "[":
                self.skip_balanced()
            elif self.peek() == "." and self.peek(1) in ("name", "num"):
                self.i += 2
            else:
                break
        while (precedence := _PRECEDENCE.get(self.peek())) is not None and precedence >= lowest:
            self.i += 1
            self.skip_binary(precedence + 1)

    def skip_balanced(self) -> None:
        """Move past a bracketed group starting here: ``( ... )``, ``[ ... ]`` or ``{ ... }``."""
        depth = 0
        while self.peek() != "eof":
            kind = self.peek()
            self.i += 1
            if kind in ("(", "[", "{"):
                depth += 1
            elif kind in (")", "]", "}"):
                depth -= 1
                if depth == 0:
                    return
        raise _CannotEvaluate

    def unary(self) -> Any:
        op = self.peek()
        if op == "-":
            self.i += 1
            return _number(-_to_number(self.unary()))
        if op == "!":
            self.i += 1
            return not _to_bool(self.unary())
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while True:
            kind = self.peek()
            if kind == "[":
                if self.peek(1) == "*":
                    raise _CannotEvaluate  # splat
                self.i += 1
                key = self.expression()
                self.take("]")
                value = self.index(value, key)
            elif kind == "." and self.peek(1) in ("name", "num"):
                self.i += 1
                _kind, _start, _end, key = self.tokens[self.i]
                self.i += 1
                value = self.index(value, key)
            elif kind in (".*", "..."):
                raise _CannotEvaluate
            else:
                return value

    @staticmethod
    def index(value: Any, key: Any) -> Any:
        if isinstance(value, list):
            position = _to_number(key)
            if not isinstance(position, int) or not 0 <= position < len(value):
                raise _EvalError("index out of range")
            return value[position]
        if isinstance(value, dict):
            name = _to_string(key)
            if name not in value:
                raise _EvalError(f"no attribute or key {name!r}")
            return value[name]
        raise _EvalError("this value cannot be indexed")

    def primary(self) -> Any:
        kind, _start, _end, value = self.tokens[self.i]
        self.i += 1
        if kind == "num":
            return value
        if kind == "str":
            if isinstance(value, Template):
                raise _CannotEvaluate
            return value
        if kind == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind == "[":
            return self.for_list() if self.peek() == "name" and self.tokens[self.i][3] == "for" else self.sequence()
        if kind == "{":
            return self.for_object() if self.peek() == "name" and self.tokens[self.i][3] == "for" else self.mapping()
        if kind != "name":
            raise _CannotEvaluate
        if self.peek() == "(":
            return self.call(str(value))
        for scope in reversed(self.scope):
            if value in scope:
                return scope[value]
        if value in _NAMES:
            return _NAMES[value]
        if value == "var" and self.peek() == "." and self.peek(1) == "name":
            variable = self.tokens[self.i + 1][3]
            if variable in self.variables:
                self.i += 2
                return self.variables[variable]
        raise _CannotEvaluate  # another variable, a local, a resource...

    def call(self, name: str) -> Any:
        if not self.functions:
            raise _CannotEvaluate  # a default: Terraform allows no function calls there
        self.take("(")
        if name in ("can", "try"):
            results = []
            while self.peek() != ")":
                results.append(self.guarded())
                if self.peek() != ",":
                    break
                self.i += 1
            self.take(")")
            if name == "can":
                if len(results) != 1:
                    raise _CannotEvaluate
                return not isinstance(results[0], _EvalError)
            for result in results:
                if not isinstance(result, _EvalError):
                    return result
            raise _EvalError("no argument of try() could be evaluated")
        function = _FUNCTIONS.get(name)
        if function is None:
            raise _CannotEvaluate
        arguments = []
        while self.peek() != ")":
            arguments.append(self.expression())
            if self.peek() == "...":
                raise _CannotEvaluate
            if self.peek() != ",":
                break
            self.i += 1
        self.take(")")
        try:
            return function(*arguments)
        except TypeError:
            raise _CannotEvaluate from None  # a call with the wrong number of arguments: leave it to Terraform
        except (ValueError, ArithmeticError, IndexError, KeyError):
            raise _EvalError(f"{name}() failed") from None

    def sequence(self) -> list[Any]:
        items: list[Any] = []
        while self.peek() != "]":
            items.append(self.expression())
            if self.peek() != ",":
                break
            self.i += 1
        self.take("]")
        return items

    def mapping(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while self.peek() != "}":
            kind, _start, _end, value = self.tokens[self.i]
            if kind in ("name", "str") and not isinstance(value, Template) and self.peek(1) in ("=", ":"):
                self.i += 1
                key: Any = value
            else:
                key = self.expression()
            if self.peek() not in ("=", ":"):
                raise _CannotEvaluate
            self.i += 1
            result[_to_string(key)] = self.expression()
            if self.peek() == ",":
                self.i += 1
        self.take("}")
        return result

    def for_header(self) -> tuple[str | None, str, int]:
        """``for k, v in`` (or ``for v in``): the key and value names; the position of the collection."""
        self.i += 1  # for
        first = str(self.take("name")[3])
        second: str | None = None
        if self.peek() == ",":
            self.i += 1
            second = str(self.take("name")[3])
        if self.peek() != "name" or self.tokens[self.i][3] != "in":
            raise _CannotEvaluate
        self.i += 1
        return (first, second, self.i) if second is not None else (None, first, self.i)

    def pairs(self, collection: Any) -> list[tuple[Any, Any]]:
        found = _collection(collection)
        if len(found) > _MAX_ITEMS:
            raise _CannotEvaluate
        if isinstance(found, dict):
            return [(k, found[k]) for k in sorted(found)]
        return list(enumerate(found))

    def for_body(self, key_name: str | None, value_name: str, close: str, produce: Callable[[], Any]) -> list[Any]:
        """Evaluate the body once per element (with the ``if`` filter); the reading ends after ``close``."""
        collection = self.expression()
        self.take(":")
        start, end = self.i, None
        results = []
        for key, item in self.pairs(collection):
            self.i = start
            self.scope.append({value_name: item, **({key_name: key} if key_name else {})})
            try:
                produced = produce()
                keep = True
                if self.peek() == "name" and self.tokens[self.i][3] == "if":
                    self.i += 1
                    keep = _to_bool(self.expression())
            finally:
                self.scope.pop()
            if keep:
                results.append(produced)
            end = self.i
        if end is None:  # no element: move past the body without evaluating it
            self.skip_for_body(close)
        else:
            self.i = end
        self.take(close)
        return results

    def skip_for_body(self, close: str) -> None:
        depth = 0
        while self.peek() != "eof":
            kind = self.peek()
            if depth == 0 and kind == close:
                return
            if kind in ("(", "[", "{"):
                depth += 1
            elif kind in (")", "]", "}"):
                depth -= 1
            self.i += 1
        raise _CannotEvaluate

    def for_list(self) -> list[Any]:
        key_name, value_name, _ = self.for_header()
        return self.for_body(key_name, value_name, "]", self.expression)

    def for_object(self) -> dict[str, Any]:
        key_name, value_name, _ = self.for_header()

        def pair() -> tuple[str, Any]:
            key = _to_string(self.expression())
            self.take("=>")
            value = self.expression()
            if self.peek() == "...":
                raise _CannotEvaluate  # grouping mode
            return key, value

        result: dict[str, Any] = {}
        for key, value in self.for_body(key_name, value_name, "}", pair):
            if key in result:
                raise _EvalError(f"duplicate key {key!r}")
            result[key] = value
        return result
