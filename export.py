#!/usr/bin/env python
"""Export a generator for serving (sr-export); the program is sr_tf/cli/export.py."""

from sr_tf.cli.export import main, parse_args, run  # noqa: F401  (main and parse_args for tests)

if __name__ == "__main__":
    run()
