"""User-facing errors: one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable


class UserError(Exception):
    """A mistake the user can fix (bad path, bad option, bad image); printed as one line."""


def run_cli(main: Callable[[], int | None]) -> None:
    """Run a command-line entry point, turning UserError, OS errors (a folder that cannot be
    written, a full disk) and Ctrl-C into one line and an exit code."""
    try:
        code = main()
    except (UserError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
