"""Turn the text fields of a file into typed values, by the declared column types.

A field that does not fit raises ``FieldError`` naming the column and the reason;
the loader keeps such rows in quarantine instead of loading them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from metricstack.loading.declarations import Column


class FieldError(ValueError):
    pass


def _integer(text: str) -> int:
    return int(text)


def _numeric(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError("not a finite number")
    return value


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"true", "t", "1", "yes"}:
        return True
    if lowered in {"false", "f", "0", "no"}:
        return False
    raise ValueError("not a boolean")


def _timestamptz(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    # A timestamp without an offset is taken as UTC, the exports' documented zone.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "bigint": _integer,
    "integer": _integer,
    "smallint": _integer,
    "numeric": _numeric,
    "text": str,
    "boolean": _boolean,
    "date": date.fromisoformat,
    "timestamptz": _timestamptz,
}

_EXPECTED = {
    "bigint": "a whole number",
    "integer": "a whole number",
    "smallint": "a whole number",
    "numeric": "a number",
    "boolean": "true or false",
    "date": "an ISO 8601 date (YYYY-MM-DD)",
    "timestamptz": "an ISO 8601 timestamp",
}


def base_type(declared: str) -> str:
    return declared.split("(", 1)[0]


def parser_for(column: Column) -> Callable[[str], Any]:
    parse = _PARSERS[base_type(column.type)]
    expected = _EXPECTED.get(base_type(column.type), column.type)

    def convert(text: str) -> Any:
        if text == "":
            if not column.nullable:
                raise FieldError(f"{column.name}: empty, but the column is required")
            return None
        try:
            return parse(text)
        except (ValueError, InvalidOperation):
            raise FieldError(f"{column.name}: {text!r} is not {expected}") from None

    return convert
