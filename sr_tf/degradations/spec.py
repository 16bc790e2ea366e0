"""Spec strings of degradations: ``name:key=value,...`` parts, numbers and ``low-high`` ranges.

No TensorFlow here: every mistake in a spec is one ``UserError`` line, raised before any
pipeline is built.
"""

from __future__ import annotations

import math
import re

from sr_tf.errors import UserError

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"\s*({_NUMBER})\s*(?:-\s*({_NUMBER})\s*)?")


def split_part(part: str) -> tuple[str, dict[str, str]]:
    """``name:k=v,k2=v2`` -> (name, {k: v, k2: v2}), names and keys lower-case."""
    name, _, params = part.strip().lower().partition(":")
    values: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UserError(f"degradation {part.strip()!r}: {item!r} is not key=value")
        if key in values:
            raise UserError(f"degradation {part.strip()!r}: {key} is given twice")
        values[key] = value.strip()
    return name.strip(), values


def check_keys(part: str, values: dict[str, str], allowed: tuple[str, ...]) -> None:
    """A UserError naming the first key not in ``allowed``."""
    for key in values:
        if key not in allowed:
            takes = ", ".join(f"{a}=..." for a in allowed) if allowed else "no parameters"
            raise UserError(
                f"degradation {part.strip()!r}: unknown parameter {key!r}; it takes {takes}"
            )


def parse_number(part: str, key: str, text: str, low: float, high: float) -> float:
    """A finite number in [low, high], or a one-line UserError."""
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"degradation {part.strip()!r}: {key} must be a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise UserError(
            f"degradation {part.strip()!r}: {key}={text} is outside [{low:g}, {high:g}]"
        )
    return value


def parse_range(part: str, key: str, text: str, low: float, high: float) -> tuple[float, float]:
    """``a-b`` (or ``a`` for a fixed value) with low <= a <= b <= high, or a UserError."""
    match = _RANGE.fullmatch(text)
    if match is None:
        raise UserError(
            f"degradation {part.strip()!r}: {key}={text} is not a range like {low:g}-{high:g}"
        )
    a = float(match.group(1))
    b = float(match.group(2)) if match.group(2) is not None else a
    if not low <= a <= b <= high:
        raise UserError(
            f"degradation {part.strip()!r}: {key}={text} must be low-high within "
            f"[{low:g}, {high:g}] with low <= high"
        )
    return a, b


def format_range(values: tuple[float, float]) -> str:
    """(a, b) -> ``a-b`` with the shortest exact decimals."""
    return f"{values[0]:g}-{values[1]:g}"
