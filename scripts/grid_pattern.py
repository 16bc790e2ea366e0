#!/usr/bin/env python
"""How much of a model's output is a pattern locked to its upsampling grid (the GAN artefact).

    python scripts/grid_pattern.py srresnet-x4 --weights runs/gan_study/modified/last.weights.h5

A sub-pixel (pixel-shuffle) upsampler computes each of the scale x scale output phases with its
own filters; when they drift apart, as under adversarial training, the output carries a fixed
pattern repeating every ``scale`` pixels: the coloured checkerboard of docs/gan.md.  For each
Set14 image (degraded with the benchmark's bicubic, upscaled by each model) this prints

* ``phase std``: the standard deviation, over the scale x scale phases (row mod s, col mod s),
  of the mean error (grey SR - grey HR) at that phase, in grey levels; a pattern locked to the
  grid moves the phase means apart, natural detail averages out;
* ``1/s energy``: the output's largest spectral magnitude at the frequencies of a pattern
  repeating every ``scale`` pixels (multiples of 1/scale cycles per pixel), relative to the
  spectrum's median.

The first model is the reference (e.g. the stage-1 generator); ``--weights`` adds GAN weights
files of the same architecture.  For each of those, the last lines split the pattern it adds
to the reference's output (``sr_tf.artefacts.phase_means`` of model - reference, per image)
into the part every image shares (the std of the mean pattern, in grey levels: a bias the
``gridbias`` content term can remove) and how alike the images' patterns are (mean pairwise
correlation; near 0: each image's own, content-dependent pattern).  Both measures are
``sr_tf.artefacts``'s (``evaluate.py --metrics grid`` reports the first, after the benchmark's
border cut).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.artefacts import (  # noqa: E402
    grid_frequency_energy,
    phase_means,
    phase_spread,
    shared_pattern,
)
from sr_tf.cli import quiet_tensorflow  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402

SET14 = Path(__file__).resolve().parents[2] / "shared" / "data" / "Set14"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("reference", help="shipped model name, e.g. srresnet-x4")
    p.add_argument("--weights", nargs="*", default=[], help="weights files of the same model")
    p.add_argument("--data", default=str(SET14), help="HR images (default: Set14)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    from sr_tf.evaluation import benchmark_pair, model_upscale
    from sr_tf.imageio import list_images
    from sr_tf.inference import TiledUpscaler
    from sr_tf.pretrained import load_generator, manifest

    entry = manifest().get(args.reference)
    if entry is None:
        raise UserError(f"{args.reference} is not a shipped model (resolve_image.py --list-models)")
    images = list_images(args.data)
    if not images:
        raise UserError(f"no images in {args.data}")
    reference, scale = load_generator(args.reference)
    models = [(args.reference, reference)]
    for path in args.weights:
        if not Path(path).is_file():
            raise UserError(f"--weights: no file {path}")
        models.append((path, load_generator(entry["architecture"], scale, path)[0]))
    upscalers = [(label, TiledUpscaler(model, scale)) for label, model in models]
    totals = {label: [] for label, _ in models}
    added = {label: [] for label, _ in models[1:]}
    print(f"{'image':<14} {'model':<50} {'phase std':>9} {'1/s energy':>10}")
    for path in images:
        hr, lr = benchmark_pair(path, scale)
        outputs = [model_upscale(up.model, lr, scale, up) for _, up in upscalers]
        for label, sr in zip(added, outputs[1:]):
            added[label].append(phase_means(sr, outputs[0], scale))
        for (label, _), sr in zip(upscalers, outputs):
            values = (phase_spread(sr, hr, scale), grid_frequency_energy(sr, scale))
            totals[label].append(values)
            print(f"{Path(path).name:<14} {label[-50:]:<50} {values[0]:>9.2f} {values[1]:>10.1f}")
    for label, values in totals.items():
        mean = np.mean(values, axis=0)
        print(f"{'mean':<14} {label[-50:]:<50} {mean[0]:>9.2f} {mean[1]:>10.1f}")
    for label, patterns in added.items():
        shared, alike = shared_pattern(patterns)
        own = np.mean([p.std() for p in patterns])
        print(
            f"added to {args.reference}'s output by {label[-50:]}: per image {own:.3f}, shared "
            f"by all images {shared:.3f} grey levels, mean pairwise correlation {alike:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
