"""Command-line programs: ``sr-train``, ``sr-resolve``, ``sr-evaluate`` and ``sr-export`` (also
run as ``train.py``, ``resolve_image.py``, ``evaluate.py`` and ``export.py`` from a checkout).

They only parse arguments and call library functions.  Argument parsing loads no TensorFlow
(``--help`` is instant; choices come from ``sr_tf.registry``), and TensorFlow's own C++ log
lines stay off the terminal unless ``--verbose`` is given or ``TF_CPP_MIN_LOG_LEVEL`` is set.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


def require_files(paths, option: str) -> None:
    """One clear error for the first of ``paths`` that is not a file (``option`` names the
    argument that gave it, e.g. ``--images``)."""
    from pathlib import Path

    from sr_tf.errors import UserError

    for path in paths:
        if not Path(path).is_file():
            raise UserError(f"{option}: no file {path}")


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's own log lines (start-up notices, CUDA probes); "
        f"also shown when {TF_LOG_LEVEL} is set",
    )


def add_tiling(parser: argparse.ArgumentParser) -> None:
    """--tile and --tile-overlap, as resolve_image.py and export.py take them."""
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        help="tile side in input pixels (default: the largest that fits --max-memory)",
    )
    parser.add_argument(
        "--tile-overlap",
        type=int,
        default=None,
        help="input pixels of context each tile sees beyond its share (default: 16)",
    )


def add_precision(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    """--precision for the programs that run a model here (resolve_image.py: ``auto``;
    evaluate.py: ``float32``, so its scores do not depend on the CPU's bfloat16)."""
    from sr_tf import registry

    parser.add_argument(
        "--precision",
        choices=registry.INFERENCE_PRECISIONS,
        default=default,
        help=f"the model's arithmetic (default: {default}): bfloat16 is faster only on CPUs with "
        "native bfloat16 (AVX512_BF16/AMX, Arm BF16); auto picks it there, float32 elsewhere",
    )


def quiet_tensorflow(verbose: bool = False) -> None:
    """Load TensorFlow without its C++ log lines reaching the terminal.

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` (no C++ info, warnings or errors: real failures still reach
    Python as exceptions) before TensorFlow is imported.  The lines printed while its libraries
    load (absl's "before InitializeLog" notice, the CUDA stub's probe) ignore that level, so
    standard error is set aside during the import and shown only if the import fails.  Nothing
    changes with ``verbose``, when the user set the variable, or once TensorFlow is loaded.
    """
    if verbose or TF_LOG_LEVEL in os.environ or "tensorflow" in sys.modules:
        return
    os.environ[TF_LOG_LEVEL] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except BaseException:
                os.dup2(saved, 2)
                capture.seek(0)
                sys.stderr.write(capture.read().decode(errors="replace"))
                raise
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    import absl.logging  # TFDS reports through absl; its warnings are not the user's business

    absl.logging.set_verbosity(absl.logging.ERROR)
