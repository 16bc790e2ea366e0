#!/usr/bin/env python
"""Train a super-resolution generator (sr-train); the program is sr_tf/cli/train.py."""

from sr_tf.cli.train import main, parse_args, run  # noqa: F401  (main and parse_args for tests)

if __name__ == "__main__":
    run()
