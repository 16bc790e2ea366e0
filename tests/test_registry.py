"""sr_tf.registry is the one list of names; the modules that implement them must agree."""

import pytest

from sr_tf import registry
from sr_tf.errors import UserError
from tests.conftest import REPO


def test_models_and_scales():
    from sr_tf import models

    assert models.MODEL_NAMES == registry.MODEL_NAMES and models.SCALES == registry.SCALES


def test_gan_losses_recipes_and_discriminator_norms():
    from sr_tf import gan_training, losses
    from sr_tf.models import discriminator

    assert tuple(losses.ADVERSARIAL) == losses.GAN_LOSSES == registry.GAN_LOSSES
    assert tuple(gan_training.RECIPES) == registry.RECIPES
    assert tuple(discriminator.NORMS) == registry.D_NORMS
    assert discriminator.ARCHITECTURES == registry.D_ARCHS
    assert gan_training.D_INPUTS == registry.D_INPUTS


def test_precisions():
    from sr_tf import engine, precision

    assert engine.PRECISIONS == registry.TRAINING_PRECISIONS
    assert precision.PRECISIONS == registry.INFERENCE_PRECISIONS


def test_pixel_losses_and_strategies():
    from sr_tf.distribute import STRATEGIES, get_strategy
    from sr_tf.losses import PIXEL_LOSSES
    from sr_tf.training import TrainConfig

    assert PIXEL_LOSSES == registry.PIXEL_LOSSES and STRATEGIES == registry.DISTRIBUTE
    for loss in registry.PIXEL_LOSSES:
        assert TrainConfig(loss=loss).loss == loss
    with pytest.raises(UserError, match="unknown loss"):
        TrainConfig(loss="l2")
    with pytest.raises(UserError, match=", ".join(registry.DISTRIBUTE[:-1])):
        get_strategy("nope")


def test_degradations():
    from sr_tf.degradations import parse_degradation

    assert [parse_degradation(name).name for name in registry.DEGRADATIONS] == list(
        registry.DEGRADATIONS
    )


def test_registry_imports_nothing_heavy():
    import subprocess
    import sys

    code = "import sys, sr_tf.registry; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.split() == ["False", "False"]
