#!/usr/bin/env python
"""Do N workers at batch B/N train the same model as 1 process at batch B?  And at what cost?

    python benchmarks/distributed_equivalence.py                       # SRResNet: stage 1, then GAN
    python benchmarks/distributed_equivalence.py --model edsr-baseline --workers 2 --steps 10

Runs `train.py` as 1 process (`--distribute default`) and as N local workers
(`--distribute multiworker`, sr_tf.cluster.LocalCluster on 127.0.0.1) with the same seed,
data and global batch, for stage 1 and then (from stage 1's weights) the GAN stage
(`--recipe mse-gan`, so no VGG download; `--noisy-labels`), and prints the largest absolute difference between
the final generator weights, with wall and CPU seconds.  SRResNet and the SRGAN discriminator
have batch norm (synchronized across replicas, docs/distributed.md).  Tiny networks (1 block,
8 features, a discriminator of width 8) on synthetic images: this measures equivalence and
overhead, not quality.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sr_tf.cluster import LocalCluster  # noqa: E402


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str], workers: int, logs: Path) -> tuple[float, float]:
    """Run ``argv`` as ``workers`` local workers (1: a plain process); (wall, CPU) seconds."""
    start, cpu = time.perf_counter(), child_cpu()
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    with LocalCluster(argv, workers, logs, env=env, cwd=REPO) as cluster:
        codes = cluster.wait(3600)
    if any(codes):
        sys.exit(f"a run failed (exit codes {codes}); see {logs}")
    return time.perf_counter() - start, child_cpu() - cpu


def max_difference(model: str, a: Path, b: Path) -> float:
    import numpy as np

    from sr_tf.models import build_model

    nets = []
    for path in (a, b):
        net = build_model(model, 2, num_blocks=1, num_features=8)
        net.load_weights(str(path))
        nets.append(net.get_weights())
    return max(float(np.abs(x - y).max()) for x, y in zip(*nets))


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="srresnet", help="srresnet (batch norm) or edsr-baseline")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4, help="the global batch")
    p.add_argument("--steps", type=int, default=6, help="stage-1 steps (the GAN stage: 3)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()

    from sr_tf.imageio import write_image
    from tests.conftest import smooth_image

    root = Path(tempfile.mkdtemp(prefix="sr_tf_equivalence_"))
    for i in range(6):
        write_image(root / "images" / f"img{i}.png", smooth_image(40, 44, seed=i))
    common = [
        sys.executable,
        str(REPO / "train.py"),
        str(root / "images"),
        f"--model={args.model}",
        "--num-blocks=1",
        "--num-features=8",
        "--scale=2",
        "--patch-size=16",
        f"--batch-size={args.batch_size}",
        "--val-count=1",
        "--seed=3",
        f"--validate-every={args.steps}",
        f"--checkpoint-every={args.steps}",
    ]
    stages = {
        "pixel": [f"--steps={args.steps}"],
        "gan": [
            "--stage=gan",
            "--steps=3",
            "--recipe=mse-gan",
            "--d-features=8",
            "--d-dense=16",
            "--noisy-labels",
            f"--init={root / 'pixel_1' / 'last.weights.h5'}",
        ],
    }
    results = []
    for stage, extra in stages.items():
        outputs = {}
        for workers in (1, args.workers):
            name = f"{stage}_{workers}"
            mode = "--distribute=multiworker" if workers > 1 else "--distribute=default"
            argv = [*common, *extra, mode, f"--output={root / name}"]
            wall, cpu = run(argv, workers, root / f"{name}_logs")
            outputs[workers] = root / name / "last.weights.h5"
            results.append({"stage": stage, "workers": workers, "wall_s": wall, "cpu_s": cpu})
            print(f"{stage:5s} {workers} worker(s): {wall:6.1f} s wall, {cpu:6.1f} s CPU")
        diff = max_difference(args.model, outputs[1], outputs[args.workers])
        results.append({"stage": stage, "max_abs_weight_difference": diff})
        print(
            f"{stage:5s} {args.model}: {args.workers} workers at batch "
            f"{args.batch_size // args.workers} vs 1 at {args.batch_size}: "
            f"max |weight difference| {diff:.3g}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"run folders in {root}")


if __name__ == "__main__":
    main()
