"""Spec string -> degradation: ``bicubic``, ``gaussian:sigma=S``, ``realistic:key=a-b,...``, or a
benchmark LR with damage after it, ``bicubic+noise:sigma=10+jpeg:q=85`` (``named``)."""

from __future__ import annotations

from sr_tf.degradations.classic import Bicubic, Gaussian
from sr_tf.degradations.named import DAMAGES, Chain
from sr_tf.degradations.realistic import Realistic
from sr_tf.degradations.spec import split_part
from sr_tf.errors import UserError
from sr_tf.registry import DEGRADATIONS as DEGRADATION_NAMES

DEFAULT_DEGRADATION = "bicubic"

Degradation = Bicubic | Gaussian | Realistic | Chain
_TYPES = {"bicubic": Bicubic, "gaussian": Gaussian, "realistic": Realistic}


def parse_degradation(spec: str | Degradation | None) -> Degradation:
    """A spec string (or a Degradation, or None for ``bicubic``) -> a Degradation."""
    if spec is None:
        return Bicubic()
    if isinstance(spec, Bicubic | Gaussian | Realistic | Chain):
        return spec
    text = str(spec)
    first, *damages = text.split("+")
    name, values = split_part(first)
    if name not in _TYPES:
        raise UserError(
            f"unknown degradation {text!r}; choose {', '.join(DEGRADATION_NAMES)}, optionally "
            f"followed by +{' or +'.join(DAMAGES)} (e.g. gaussian:sigma=1.6, "
            "realistic:jpeg=30-95, bicubic+jpeg:q=75)"
        )
    base = _TYPES[name].from_params(text, values)  # errors name the whole spec
    if not damages:
        return base
    if isinstance(base, Realistic):
        raise UserError(
            f"degradation {text!r}: realistic draws its own noise and JPEG and cannot be "
            "followed by +...; give its ranges instead, e.g. realistic:jpeg=60-95"
        )
    return Chain.parse(text, base, damages)


def degradation_spec(spec: str | Degradation | None) -> str:
    """The canonical spec string of a degradation (what run.json records)."""
    return parse_degradation(spec).to_spec()
