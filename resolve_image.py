#!/usr/bin/env python
"""Upscale images with a super-resolution model (sr-resolve); the program is sr_tf/cli/resolve.py."""

from sr_tf.cli.resolve import main, parse_args, run  # noqa: F401  (main and parse_args for tests)

if __name__ == "__main__":
    run()
