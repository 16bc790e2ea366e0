"""sr_tf.tfgan_compat: tensorflow-gan's losses importable on the installed TensorFlow."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tensorflow as tf

from sr_tf import tfgan_compat

pytest.importorskip("tensorflow_gan.python.losses.losses_impl", reason="tensorflow-gan absent")


def test_losses_module_is_tfgans_wargs():
    assert tfgan_compat.SOURCE in ("package", "losses-only")
    assert tfgan_compat.losses.__name__ == tfgan_compat.WARGS_MODULE
    for name in (
        "minimax_discriminator_loss",
        "modified_generator_loss",
        "least_squares_discriminator_loss",
        "wasserstein_gradient_penalty",
        "wasserstein_hinge_discriminator_loss",
        "relativistic_generator_loss",
    ):
        assert callable(getattr(tfgan_compat.losses, name))


def test_source_matches_the_installed_tensorflow():
    # TF >= 2.16 has no tf.estimator, so the package __init__ cannot run.
    expected = "package" if hasattr(tf, "estimator") else "losses-only"
    assert tfgan_compat.SOURCE == expected


def test_losses_compute_known_values():
    logits = tf.zeros([4, 1])
    ln2 = np.log(2.0)
    losses = tfgan_compat.losses
    assert np.isclose(float(losses.modified_generator_loss(logits, loss_collection=None)), ln2)
    d = losses.modified_discriminator_loss(
        logits, logits, label_smoothing=0.0, loss_collection=None
    )
    assert np.isclose(float(d), 2 * ln2)


def test_fallback_runs_no_package_init():
    """On TF without tf.estimator, only the losses modules are loaded, under empty stand-ins."""
    if tfgan_compat.SOURCE != "losses-only":
        pytest.skip("this TensorFlow imports tensorflow_gan normally")
    package = sys.modules["tensorflow_gan"]
    assert not hasattr(package, "__version__")  # set by the real __init__
    assert "tensorflow_gan.python.estimator" not in sys.modules
    assert "tensorflow_gan.python.losses.tuple_losses" not in sys.modules  # losses/__init__
    assert tfgan_compat.load_losses_only() is tfgan_compat.losses  # idempotent
