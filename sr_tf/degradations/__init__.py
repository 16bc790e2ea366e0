"""Degradations: how a low-resolution image is made from a high-resolution one.

A degradation is a small frozen value, written and read as a spec string, recorded in run.json
and in the shipped manifest:

* ``bicubic``, ``gaussian[:sigma=S]``: the benchmarks' LR (``classic``);
* ``realistic[:key=low-high,...]``: a random second-order pipeline of blur, resize, noise and
  JPEG for real-world photos, for training (``realistic``);
* ``bicubic+jpeg:q=75``, ``gaussian:sigma=1.2+noise:sigma=10+jpeg:q=50``, ...: a benchmark LR
  with fixed damage after it, for evaluation (``named``).

Modules, in data-flow order: ``spec`` (parsing, no TensorFlow), ``classic`` (bicubic,
gaussian), ``keys`` (stateless random keys), ``blur``, ``noise``, ``jpeg`` (the damage),
``realistic``, ``named``, ``parse`` (spec string -> degradation).
"""

from sr_tf.degradations.classic import DEFAULT_SIGMA, Bicubic, Gaussian
from sr_tf.degradations.keys import content_key, element_key
from sr_tf.degradations.named import Chain, Jpeg, Noise
from sr_tf.degradations.parse import (
    DEFAULT_DEGRADATION,
    DEGRADATION_NAMES,
    Degradation,
    degradation_spec,
    parse_degradation,
)
from sr_tf.degradations.realistic import Realistic

__all__ = [
    "DEFAULT_DEGRADATION",
    "DEFAULT_SIGMA",
    "DEGRADATION_NAMES",
    "Bicubic",
    "Chain",
    "Degradation",
    "Gaussian",
    "Jpeg",
    "Noise",
    "Realistic",
    "content_key",
    "degradation_spec",
    "element_key",
    "parse_degradation",
]
