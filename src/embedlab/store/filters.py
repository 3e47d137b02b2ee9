"""Metadata filters: one small Mongo-like syntax, checked once, compiled per backend.

Syntax (a filter is a dict; several keys in one dict must all hold)::

    {"lang": "en"}                                  equality (str, int, float, bool or None)
    {"year": {"$gte": 2020, "$lt": 2025}}           $eq $ne $gt $gte $lt $lte
    {"lang": {"$in": ["en", "fr"]}}                 $in / $nin: a non-empty list of values
    {"source": {"$exists": True}}                   the key is present (any value)
    {"$or": [{"lang": "en"}, {"year": 2024}]}       $and / $or: a non-empty list of filters
    {"$not": {"lang": "en"}}                        negation
    {"author.country": "FR"}                        dots reach into nested objects

Semantics are strict and identical in every backend: values compare only with values of the same
JSON type (the number 1 never equals the string "1" or true; ranges take numbers or strings);
``None`` matches a JSON null; ``$ne`` and ``$nin`` also match items that lack the key.

The filter is parsed into a tiny tree, then compiled to SQLite (local backend), to PostgreSQL
(pgvector backend) or evaluated in Python. Values and key paths are always passed as query
parameters, never written into SQL text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from embedlab.store.errors import FilterError

Scalar = str | int | float | bool | None

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ -]*$")
_COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists")
LOGICAL = ("$and", "$or", "$not")
_HINT = (
    'write e.g. {"lang": "en", "year": {"$gte": 2020}, "tag": {"$in": ["a", "b"]}}; '
    f"operators: {', '.join(OPERATORS + LOGICAL)}"
)


@dataclass(frozen=True)
class Cond:
    """One test on one metadata key: ``op`` is eq, ne, gt, gte, lt, lte, in, nin or exists."""

    path: tuple[str, ...]
    op: str
    value: Any


@dataclass(frozen=True)
class Logic:
    op: str  # "and" | "or" | "not"
    items: tuple[Node, ...]


Node = Cond | Logic


def parse_filter(where: Any) -> Node | None:
    """Check ``where`` and return its tree (``None`` for no filter); errors say what to fix."""
    if where is None or where == {}:
        return None
    if isinstance(where, Cond | Logic):
        return where
    if isinstance(where, str):
        try:
            where = json.loads(where)
        except json.JSONDecodeError as exc:
            raise FilterError(f"the filter is not valid JSON ({exc.msg})", _HINT) from None
    return _parse(where)


def _parse(where: Any) -> Node:
    if not isinstance(where, dict) or not where:
        raise FilterError(f"a filter must be a non-empty dict, got {where!r}", _HINT)
    parts: list[Node] = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise FilterError(f"filter keys must be strings, got {key!r}", _HINT)
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple) or not value:
                raise FilterError(f"{key} takes a non-empty list of filters, got {value!r}", _HINT)
            parts.append(Logic(key[1:], tuple(_parse(v) for v in value)))
        elif key == "$not":
            parts.append(Logic("not", (_parse(value),)))
        elif key.startswith("$"):
            raise FilterError(f"unknown logical operator {key!r}", _HINT)
        else:
            parts.extend(_parse_field(key, value))
    return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))


def _path(key: str) -> tuple[str, ...]:
    segments = tuple(key.split("."))
    if not all(_SEGMENT.match(s) for s in segments):
        raise FilterError(
            f"{key!r} is not a usable metadata key in a filter",
            "keys may hold letters, digits, '_', '-' and spaces; dots reach into nested objects",
        )
    return segments


def _scalar(value: Any, key: str, op: str) -> Scalar:
    if value is None or isinstance(value, str | bool | int | float):
        if isinstance(value, float) and value != value:
            raise FilterError(f"{key} {op} NaN can never match", "compare with a real number")
        return value
    raise FilterError(
        f"{key} {op} takes a string, number, boolean or null, got {type(value).__name__}",
        _HINT,
    )


def _parse_field(key: str, value: Any) -> list[Cond]:
    path = _path(key)
    if not isinstance(value, dict):
        return [Cond(path, "eq", _scalar(value, key, "$eq"))]
    if not value:
        raise FilterError(f"the condition on {key!r} is an empty dict", _HINT)
    out = []
    for op, operand in value.items():
        if op not in OPERATORS:
            raise FilterError(f"unknown operator {op!r} on {key!r}", _HINT)
        if op in ("$eq", "$ne"):
            out.append(Cond(path, op[1:], _scalar(operand, key, op)))
        elif op in _COMPARE:
            ok = isinstance(operand, int | float | str) and not isinstance(operand, bool)
            if not ok:
                raise FilterError(
                    f"{key} {op} takes a number or a string, got {operand!r}",
                    "ranges compare numbers with numbers and strings with strings",
                )
            out.append(Cond(path, op[1:], _scalar(operand, key, op)))
        elif op in ("$in", "$nin"):
            if not isinstance(operand, list | tuple) or not operand:
                raise FilterError(f"{key} {op} takes a non-empty list, got {operand!r}", _HINT)
            out.append(Cond(path, op[1:], tuple(_scalar(v, key, op) for v in operand)))
        else:  # $exists
            if not isinstance(operand, bool):
                raise FilterError(f"{key} $exists takes true or false, got {operand!r}", _HINT)
            out.append(Cond(path, "exists", operand))
    return out


def _kind(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    return "number"


# -- Python ------------------------------------------------------------------------------------
_MISSING = object()


def matches(node: Node | None, metadata: dict[str, Any]) -> bool:
    """Evaluate a parsed filter on one metadata dict (the reference the SQL compilers follow)."""
    if node is None:
        return True
    if isinstance(node, Logic):
        if node.op == "and":
            return all(matches(n, metadata) for n in node.items)
        if node.op == "or":
            return any(matches(n, metadata) for n in node.items)
        return not matches(node.items[0], metadata)
    value: Any = metadata
    for segment in node.path:
        value = value.get(segment, _MISSING) if isinstance(value, dict) else _MISSING
    if node.op == "exists":
        return (value is not _MISSING) == node.value
    if node.op in ("ne", "nin"):
        positive = "eq" if node.op == "ne" else "in"
        return not matches(Cond(node.path, positive, node.value), metadata)
    if value is _MISSING or isinstance(value, list | dict):
        return False
    if node.op == "in":
        return any(_same(value, v) for v in node.value)
    if node.op == "eq":
        return _same(value, node.value)
    if _kind(value) != _kind(node.value):
        return False
    return {
        "gt": value > node.value,
        "gte": value >= node.value,
        "lt": value < node.value,
        "lte": value <= node.value,
    }[node.op]


def _same(a: Any, b: Scalar) -> bool:
    return _kind(a) == _kind(b) and a == b


# -- SQL ---------------------------------------------------------------------------------------
def _sql(node: Node, test: Callable[[Cond], str]) -> str:
    """Compile ``node`` to SQL text: and/or/not and the negations $ne/$nin read the same in
    every dialect, so only ``test`` (one positive condition, appending its parameters in text
    order) is the backend's own."""
    if isinstance(node, Logic):
        inner = [_sql(n, test) for n in node.items]
        if node.op == "not":
            return f"(NOT {inner[0]})"
        return "(" + f" {node.op.upper()} ".join(inner) + ")"
    if node.op in ("ne", "nin"):
        positive = Cond(node.path, "eq" if node.op == "ne" else "in", node.value)
        return f"(NOT {test(positive)})"
    return test(node)


# -- SQLite ------------------------------------------------------------------------------------
def _sqlite_path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{s}"' for s in path)


_SQLITE_TYPES = {
    "number": "('integer','real')",
    "string": "('text')",
    "null": "('null')",
}


def to_sqlite(node: Node | None, column: str = "metadata") -> tuple[str, list[Any]]:
    """SQL boolean expression over a JSON text column, with ``?`` parameters."""
    if node is None:
        return "1", []
    params: list[Any] = []
    sql = _sql(node, lambda cond: _sqlite_test(cond, column, params))
    return sql, params


def _sqlite_test(node: Cond, col: str, params: list[Any]) -> str:
    path = _sqlite_path(node.path)
    if node.op == "exists":
        params.append(path)
        return f"(json_type({col}, ?) IS {'NOT ' if node.value else ''}NULL)"
    values = node.value if node.op == "in" else (node.value,)
    ops = {"eq": "=", "in": "=", **{k[1:]: v for k, v in _COMPARE.items()}}
    terms = []
    for value in values:
        kind = _kind(value)
        if kind == "bool":
            params.append(path)
            params.append("true" if value else "false")
            terms.append(f"COALESCE(json_type({col}, ?) = ?, 0)")
        elif kind == "null":
            params.append(path)
            terms.append(f"COALESCE(json_type({col}, ?) = 'null', 0)")
        else:
            params.extend([path, path, value])
            terms.append(
                f"COALESCE(json_type({col}, ?) IN {_SQLITE_TYPES[kind]} "
                f"AND json_extract({col}, ?) {ops[node.op]} ?, 0)"
            )
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


# -- PostgreSQL --------------------------------------------------------------------------------
_PG_TYPES = {"number": "number", "string": "string"}


def to_postgres(node: Node | None, column: str = "metadata") -> tuple[str, list[Any]]:
    """SQL boolean expression over a ``jsonb`` column, with ``%s`` parameters (psycopg)."""
    if node is None:
        return "TRUE", []
    params: list[Any] = []
    return _sql(node, lambda cond: _pg_test(cond, column, params)), params


def _pg_test(node: Cond, col: str, params: list[Any]) -> str:
    from psycopg.types.json import Jsonb

    path = list(node.path)
    if node.op == "exists":
        params.append(path)
        return f"(({col} #> %s::text[]) IS {'NOT ' if node.value else ''}NULL)"
    if node.op == "eq":
        params.extend([path, Jsonb(node.value)])
        return f"COALESCE(({col} #> %s::text[]) = %s::jsonb, FALSE)"
    if node.op == "in":
        params.extend([path, [Jsonb(v) for v in node.value]])
        return f"COALESCE(({col} #> %s::text[]) = ANY(%s::jsonb[]), FALSE)"
    kind = _PG_TYPES[_kind(node.value)]
    params.extend([path, path, Jsonb(node.value)])
    op = _COMPARE["$" + node.op]
    return (
        f"COALESCE(jsonb_typeof({col} #> %s::text[]) = '{kind}' "
        f"AND ({col} #> %s::text[]) {op} %s::jsonb, FALSE)"
    )
