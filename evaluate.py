#!/usr/bin/env python
"""Score bicubic or a model with the benchmark protocol (sr-evaluate); the program is sr_tf/cli/evaluate.py."""

from sr_tf.cli.evaluate import main, parse_args, run  # noqa: F401  (main and parse_args for tests)

if __name__ == "__main__":
    run()
