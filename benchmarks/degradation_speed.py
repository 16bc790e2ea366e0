"""Training patches per second of ``sr_tf.data.training_dataset`` alone, per degradation.

    python benchmarks/degradation_speed.py                     # T91, x4, 96 and 192 HR patches
    python benchmarks/degradation_speed.py --data DIR --batches 40 --degradation realistic

The pipeline is timed without a model: batches of 16 after a few warm-up batches, with
``--cache`` (decoded images in memory, as long runs use it).  Elements per second depend on
what else runs on the machine (the load average before and after is printed); CPU
milliseconds per element, all threads counted, are what the pipeline takes from training.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def measure(data: str, degradation: str, hr_patch: int, batches: int, cache: bool) -> dict:
    from sr_tf.data import folder_source, training_dataset

    source = folder_source(data)
    dataset = training_dataset(
        source, 4, hr_patch, 16, seed=0, cache=cache, degradation=degradation
    )
    it = iter(dataset)
    t0 = time.perf_counter()
    next(it)
    first = time.perf_counter() - t0
    for _ in range(10):  # warm up (autotuning, prefetch buffers)
        next(it)
    load = os.getloadavg()[0]
    t0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(it)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "degradation": degradation,
        "hr_patch": hr_patch,
        "batch_size": 16,
        "cache": cache,
        "elements_per_s": round(batches * 16 / seconds, 1),
        # CPU time of all threads per element: what the pipeline takes from training, and
        # steadier than elements/s while other jobs share the cores.
        "cpu_ms_per_element": round(cpu / (batches * 16) * 1000, 2),
        "first_batch_s": round(first, 2),
        "load_before_after": [round(load, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "T91"))
    p.add_argument("--degradation", action="append", help="default: bicubic and realistic")
    p.add_argument("--patch", type=int, action="append", help="HR patch sides (default 96, 192)")
    p.add_argument("--batches", type=int, default=100)
    p.add_argument("--no-cache", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for degradation in args.degradation or ["bicubic", "realistic"]:
        for patch in args.patch or [96, 192]:
            row = measure(args.data, degradation, patch, args.batches, not args.no_cache)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
