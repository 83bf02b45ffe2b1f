"""Checks of single values in a station file, collecting problems instead of raising.

Every check reports to a :class:`Problems` list with the dotted key of the value and a
reason an installer can act on (what is allowed, what was given), and returns the checked
value or :data:`BAD`. Nothing here stops at the first problem: the loader wants them all.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Any, Final

from drivers.params import Param


class _Bad:
    """Type of :data:`BAD`."""

    def __repr__(self) -> str:
        return "BAD"


BAD: Final = _Bad()
"""Returned by a check whose value was refused (the problem is already recorded)."""


class Problems:
    """The (key, reason) pairs found so far, in the order they were found."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, key: str, reason: str) -> None:
        self.items.append((key, reason))

    def __bool__(self) -> bool:
        return bool(self.items)


def show(value: Any) -> str:
    """A value as the installer wrote it in TOML (``true``, ``'abc'``, ``32``, ``1.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def describe(value: Any) -> str:
    """The TOML type and value, for "wrong type" reasons: ``string '9600'``."""
    if isinstance(value, bool):
        return f"boolean {show(value)}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, datetime | date | time):
        return f"date/time {value.isoformat()}"
    return type(value).__name__


_TYPE_NAMES: Final[dict[type, str]] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "a boolean (true or false)",
    list: "an array",
}


def check_type(problems: Problems, key: str, value: Any, expected: type) -> Any:
    """``value`` if it is of the ``expected`` TOML type, else :data:`BAD`.

    A boolean is never an integer or a number (Python would say it is); an integer is a
    fine number and comes back as a float, so drivers always see the declared type.
    """
    ok: bool
    if expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            problems.add(key, f"must be a finite number (got {value!r})")
            return BAD
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    if not ok:
        name = _TYPE_NAMES.get(expected, expected.__name__)
        problems.add(key, f"must be {name} (got {describe(value)})")
        return BAD
    return float(value) if expected is float else value


def check_range(
    problems: Problems,
    key: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    above: float | None = None,
) -> bool:
    """Whether ``low <= value <= high`` (and ``value > above``); reports the range if not."""
    fails = (
        (low is not None and value < low)
        or (high is not None and value > high)
        or (above is not None and value <= above)
    )
    if not fails:
        return True
    parts = []
    if above is not None:
        parts.append(f"> {show(above)}")
    if low is not None and high is not None:
        parts.append(f"between {show(low)} and {show(high)}")
    elif low is not None:
        parts.append(f">= {show(low)}")
    elif high is not None:
        parts.append(f"<= {show(high)}")
    problems.add(key, f"must be {' and '.join(parts)} (got {show(value)})")
    return False


def check_choice(problems: Problems, key: str, value: Any, choices: Iterable[Any]) -> bool:
    """Whether ``value`` is one of ``choices``; reports the choices if not."""
    allowed = tuple(choices)
    if value in allowed:
        return True
    listed = ", ".join(show(c) for c in allowed)
    problems.add(key, f"must be one of {listed} (got {show(value)})")
    return False


def check_param(problems: Problems, key: str, value: Any, param: Param) -> Any:
    """``value`` checked against a declared driver parameter: type, choices, range.

    A list parameter (``param.type is list``) must be a non-empty array whose elements
    each pass the checks of ``param.item``; it comes back as a tuple."""
    if param.type is list:
        return _check_list(problems, key, value, param)
    checked = check_type(problems, key, value, param.type)
    if checked is BAD:
        return BAD
    if param.choices is not None and not check_choice(problems, key, checked, param.choices):
        return BAD
    is_number = isinstance(checked, int | float) and not isinstance(checked, bool)
    if is_number and not check_range(problems, key, checked, param.min, param.max):
        return BAD
    return checked


def _check_list(problems: Problems, key: str, value: Any, param: Param) -> Any:
    if check_type(problems, key, value, list) is BAD:
        return BAD
    if not value:
        problems.add(key, "must not be empty")
        return BAD
    element = Param(param.item or str, min=param.min, max=param.max, choices=param.choices)
    before = len(problems.items)
    # 1-based like connectors[1]: the installer counts the entries of the array.
    items = [check_param(problems, f"{key}[{n}]", v, element) for n, v in enumerate(value, 1)]
    return BAD if len(problems.items) != before else tuple(items)


def check_text(
    problems: Problems,
    key: str,
    value: Any,
    *,
    max_len: int,
    min_len: int = 0,
    pattern: re.Pattern[str] | None = None,
    pattern_text: str = "",
) -> Any:
    """A string of ``min_len``..``max_len`` characters, optionally matching ``pattern``."""
    if check_type(problems, key, value, str) is BAD:
        return BAD
    if pattern is not None and not pattern.fullmatch(value):
        problems.add(key, f"must be {pattern_text} (got {value!r})")
        return BAD
    if not min_len <= len(value) <= max_len:
        limit = f"at most {max_len}" if min_len == 0 else f"{min_len} to {max_len}"
        problems.add(key, f"must be {limit} characters long (got {len(value)}: {value!r})")
        return BAD
    return value


def suggest(key: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known key, or nothing."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(
    problems: Problems, prefix: str, table: Mapping[str, Any], known: Iterable[str]
) -> None:
    """Report every key of ``table`` that is not in ``known`` (with a suggestion)."""
    allowed = list(known)
    for name in table:
        if name not in allowed:
            problems.add(join(prefix, name), "unknown key" + suggest(name, allowed))


def table_at(problems: Problems, key: str, value: Any, hint: str = "") -> dict[str, Any] | None:
    """``value`` if it is a TOML table, else reports ``must be a table`` and gives None."""
    if isinstance(value, dict):
        return value
    where = f" ({hint})" if hint else ""
    problems.add(key, f"must be a table{where} (got {describe(value)})")
    return None


def join(prefix: str, name: str) -> str:
    """The dotted key of ``name`` inside ``prefix``."""
    return f"{prefix}.{name}" if prefix else name
