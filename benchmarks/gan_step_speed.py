#!/usr/bin/env python
"""Steps/s of the SRGAN stage: SRResNet x4, batch 16, 96x96 HR patches, VGG54 content loss.

    python benchmarks/gan_step_speed.py                 # 5 timed steps after 1 warm-up step
    python benchmarks/gan_step_speed.py --steps 20 --gan-loss wasserstein-gp

A full-size paper setup (16-block SRResNet, the 23.6 M-parameter discriminator, VGG19 up to
block5_conv4) with random VGG weights (speed does not depend on the weight values) on real T91
patches (../shared/data/T91, or synthetic images if absent), through the same GAN engine and
tf.data pipeline as `train.py --stage gan`.  Dense matmul GFLOP/s is measured right before and
after, so a number can be read against the machine's load at the time.
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
T91 = REPO.parent / "shared" / "data" / "T91"


def matmul_gflops(n: int = 1024, repeats: int = 10) -> float:
    import tensorflow as tf

    a = tf.random.uniform([n, n])
    tf.linalg.matmul(a, a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        b = tf.linalg.matmul(a, a)
    b.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5, help="timed steps (after one warm-up step)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patch-size", type=int, default=96)
    p.add_argument("--gan-loss", default="modified")
    p.add_argument("--content-loss", default="vgg54")
    p.add_argument("--model", default="srresnet")
    args = p.parse_args()

    import tensorflow as tf

    from sr_tf.data import folder_source, training_dataset
    from sr_tf.gan_training import GanConfig, gan_engine
    from sr_tf.imageio import write_image
    from sr_tf.models import build_model
    from sr_tf.weights import save_weights_atomic

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if T91.is_dir():
            data = T91
        else:  # synthetic stand-in: speed does not depend on the content
            import numpy as np

            data = tmp / "images"
            rng = np.random.default_rng(0)
            for i in range(8):
                write_image(data / f"{i}.png", rng.integers(0, 256, (200, 200, 3), dtype=np.uint8))
        init = save_weights_atomic(build_model(args.model, 4), tmp / "init.weights.h5")
        config = GanConfig(
            model=args.model,
            scale=4,
            steps=10**6,
            batch_size=args.batch_size,
            patch_size=args.patch_size,
            content_loss=args.content_loss,
            gan_loss=args.gan_loss,
            random_vgg=True,
            init=str(init),
        )
        trainer = gan_engine(config, tmp / "run")
        dataset = training_dataset(folder_source(data), 4, args.patch_size, args.batch_size)
        batches = iter(trainer.strategy.experimental_distribute_dataset(dataset))
        gflops_before = matmul_gflops()
        start = time.perf_counter()
        trainer.train_step([next(batches) for _ in range(config.d_steps)])
        warmup = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(args.steps):
            values = trainer.train_step([next(batches) for _ in range(config.d_steps)])
        seconds = time.perf_counter() - start
        gflops_after = matmul_gflops()
    result = {
        "model": args.model,
        "scale": 4,
        "batch_size": args.batch_size,
        "hr_patch": args.patch_size,
        "content_loss": args.content_loss,
        "gan_loss": args.gan_loss,
        "data": str(data) if T91.is_dir() else "synthetic",
        "timed_steps": args.steps,
        "steps_per_second": args.steps / seconds,
        "seconds_per_step": seconds / args.steps,
        "first_step_seconds_incl_tracing": warmup,
        "matmul_gflops_before_after": [round(gflops_before, 1), round(gflops_after, 1)],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": [
            tf.config.threading.get_inter_op_parallelism_threads(),
            tf.config.threading.get_intra_op_parallelism_threads(),
        ],
        "last_losses": {k: round(v, 5) for k, v in values.items()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
