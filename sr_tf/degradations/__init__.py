"""Degradations: how a low-resolution image is made from a high-resolution one.

A degradation is a small frozen value, written and read as a spec string, recorded in run.json
and in the shipped manifest:

* ``bicubic``, ``gaussian[:sigma=S]``: the benchmarks' LR (``classic``);
* ``realistic[:key=low-high,...]``: a random second-order pipeline of blur, resize, noise and
  JPEG for real-world photos, for training (``realistic``).

Modules, in data-flow order: ``spec`` (parsing, no TensorFlow), ``classic``, ``blur``, ``noise``,
``jpeg``, ``realistic``, ``parse`` (spec string -> degradation).
"""

from sr_tf.degradations.classic import DEFAULT_SIGMA, Bicubic, Gaussian
from sr_tf.degradations.parse import (
    DEFAULT_DEGRADATION,
    DEGRADATION_NAMES,
    Degradation,
    degradation_spec,
    parse_degradation,
)
from sr_tf.degradations.realistic import Realistic, element_key

__all__ = [
    "DEFAULT_DEGRADATION",
    "DEFAULT_SIGMA",
    "DEGRADATION_NAMES",
    "Bicubic",
    "Degradation",
    "Gaussian",
    "Realistic",
    "degradation_spec",
    "element_key",
    "parse_degradation",
]
