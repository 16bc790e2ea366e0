"""The names every command line chooses from, in one place, without importing TensorFlow.

The modules that implement them import these lists (or, where another module owns the
implementation, ``tests/test_registry.py`` checks that both agree), and every CLI takes its
``choices=`` from here, so argparse stays cheap: ``--help`` loads no TensorFlow.
"""

from __future__ import annotations

MODEL_NAMES = ("edsr", "edsr-baseline", "edsr-full", "srresnet")  # sr_tf.models
SCALES = (2, 3, 4, 8)  # sr_tf.models
STAGES = ("pixel", "gan")  # train.py --stage
PIXEL_LOSSES = ("l1", "mse")  # stage 1 --loss
RECIPES = ("paper", "mse-vgg", "mse-gan")  # stage 2 --recipe (sr_tf.gan_training.RECIPES)
GAN_LOSSES = ("minimax", "modified", "least-squares", "wasserstein-gp", "hinge", "relativistic")
D_NORMS = ("batch", "layer", "none", "spectral")  # discriminator normalisation
D_ARCHS = ("srgan", "unet", "fourier")  # discriminator (sr_tf.models.discriminator.ARCHITECTURES)
D_INPUTS = ("rgb", "luma")  # what the discriminator sees (sr_tf.gan_training.D_INPUTS)
DISTRIBUTE = ("default", "mirrored", "multiworker", "slurm")  # sr_tf.distribute.get_strategy
DEGRADATIONS = ("bicubic", "gaussian", "realistic")  # sr_tf.degradations (docs/training.md)
TRAINING_PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")  # train.py --precision
INFERENCE_PRECISIONS = ("auto", "float32", "bfloat16")  # resolve/evaluate/export --precision
EXPORT_FORMATS = ("savedmodel", "tflite")
EVALUATION_METHODS = ("bicubic",)  # evaluate.py --method
