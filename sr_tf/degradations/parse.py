"""Spec string -> degradation: ``bicubic``, ``gaussian:sigma=S``, ``realistic:key=a-b,...``."""

from __future__ import annotations

from sr_tf.degradations.classic import Bicubic, Gaussian
from sr_tf.degradations.realistic import Realistic
from sr_tf.degradations.spec import split_part
from sr_tf.errors import UserError
from sr_tf.registry import DEGRADATIONS as DEGRADATION_NAMES

DEFAULT_DEGRADATION = "bicubic"

Degradation = Bicubic | Gaussian | Realistic
_TYPES = {"bicubic": Bicubic, "gaussian": Gaussian, "realistic": Realistic}


def parse_degradation(spec: str | Degradation | None) -> Degradation:
    """A spec string (or a Degradation, or None for ``bicubic``) -> a Degradation."""
    if spec is None:
        return Bicubic()
    if isinstance(spec, Bicubic | Gaussian | Realistic):
        return spec
    name, values = split_part(str(spec))
    if name not in _TYPES:
        raise UserError(
            f"unknown degradation {spec!r}; choose {', '.join(DEGRADATION_NAMES)} "
            "(e.g. gaussian:sigma=1.6, realistic:jpeg=30-95)"
        )
    return _TYPES[name].from_params(str(spec), values)


def degradation_spec(spec: str | Degradation | None) -> str:
    """The canonical spec string of a degradation (what run.json records)."""
    return parse_degradation(spec).to_spec()
