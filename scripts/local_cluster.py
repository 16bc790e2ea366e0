#!/usr/bin/env python
"""Run one command as N workers of a multi-worker cluster on this machine (127.0.0.1, free
ports), each with its own TF_CONFIG; the workers' outputs go to --logs/worker<i>.log.

python scripts/local_cluster.py 2 [--logs FOLDER] -- python train.py ../shared/data/T91 --distribute multiworker \\
    --num-blocks 1 --num-features 8 --steps 20 --output runs/try_multiworker

Ctrl-C (or one worker failing) stops them all.  For real clusters see docs/distributed.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cluster import LocalCluster  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("workers", type=int, help="how many worker processes")
    p.add_argument("--logs", default="local_cluster_logs", help="folder for the workers' outputs")
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = p.parse_args(argv[:split]), argv[split + 1 :]
    if args.workers < 1 or not command:
        raise UserError("give a number of workers >= 1 and, after --, the command to run")
    with LocalCluster(command, args.workers, args.logs) as cluster:
        print(f"{args.workers} workers at {', '.join(cluster.addresses)}; outputs in {args.logs}/")
        while True:
            codes = [p.poll() for p in cluster.processes]
            if any(c not in (None, 0) for c in codes) or all(c == 0 for c in codes):
                break
            time.sleep(0.5)
        if any(c not in (None, 0) for c in codes):
            failed = next(i for i, c in enumerate(codes) if c not in (None, 0))
            tail = cluster.output(failed).strip().splitlines()[-1:] or ["(no output)"]
            print(f"worker {failed} failed (exit {codes[failed]}): {tail[0]}", file=sys.stderr)
            return 1
    print(f"all {args.workers} workers done")
    return 0


if __name__ == "__main__":
    run_cli(main)
