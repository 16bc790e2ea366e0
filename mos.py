#!/usr/bin/env python
"""Mean-opinion-score studies (sr-mos): prepare, serve, report; the program is sr_tf/cli/mos.py."""

from sr_tf.cli.mos import main, parse_args, run  # noqa: F401  (main and parse_args for tests)

if __name__ == "__main__":
    run()
