"""tensorflow-gan's losses on any TensorFlow: ``from sr_tf.tfgan_compat import losses``.

``losses`` is ``tfgan.losses.wargs`` (the tensor-argument loss functions).  Where the package
imports (TensorFlow < 2.16, which still has ``tf.estimator``) it is imported normally.  Newer
TensorFlow removed ``tf.estimator``, which tensorflow-gan's ``__init__`` imports
(tensorflow/gan issue 55), although its losses module works; there, only
``tensorflow_gan/python/losses/losses_wargs.py`` (and what it imports: ``losses_impl`` and
``contrib_utils``) is loaded, under empty stand-ins for the parent packages, so no package
``__init__`` runs.  ``SOURCE`` says which way was taken.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

import tensorflow as tf

WARGS_MODULE = "tensorflow_gan.python.losses.losses_wargs"
_PARENTS = ("tensorflow_gan", "tensorflow_gan.python", "tensorflow_gan.python.losses")


def load_losses_only() -> types.ModuleType:
    """Import tfgan's ``losses_wargs`` module without executing any tensorflow_gan ``__init__``."""
    if WARGS_MODULE in sys.modules:
        return sys.modules[WARGS_MODULE]
    spec = importlib.util.find_spec("tensorflow_gan")  # locates the package, does not run it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tensorflow-gan is not installed: pip install tensorflow-gan")
    root = Path(list(spec.submodule_search_locations)[0])
    for depth, name in enumerate(_PARENTS):
        if name in sys.modules:
            continue
        folder = root.joinpath(*name.split(".")[1:]) if depth else root
        stub_spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        stub_spec.submodule_search_locations = [str(folder)]
        stub = importlib.util.module_from_spec(stub_spec)
        stub.__doc__ = (
            "Empty stand-in registered by sr_tf.tfgan_compat: the real package __init__ "
            "needs tf.estimator, which this TensorFlow does not have."
        )
        sys.modules[name] = stub
        if depth:
            parent, _, child = name.rpartition(".")
            setattr(sys.modules[parent], child, stub)
    return importlib.import_module(WARGS_MODULE)


def _load() -> tuple[types.ModuleType, str]:
    if hasattr(tf, "estimator"):
        try:
            import tensorflow_gan as tfgan

            return tfgan.losses.wargs, "package"
        except (ImportError, AttributeError):
            pass
    return load_losses_only(), "losses-only"


losses, SOURCE = _load()

__all__ = ["SOURCE", "WARGS_MODULE", "load_losses_only", "losses"]
