#!/usr/bin/env python
"""A picture of training pairs from a degradation: HR patch | LR draws (nearest-neighbour x scale).

    python scripts/realistic_samples.py --images ../shared/data/BSD200/{100075,108082,...}.jpg \
        --output docs/images/realistic_lr_samples.png

Each row is one HR patch (the centre of an image); each LR column is the patch through the
degradation with the key of one training element (``element_key(seed, k)``), exactly as
``train.py --degradation realistic`` would make it, enlarged by the scale with nearest-neighbour
so that blocks, ringing and noise stay visible (everything at ``--zoom``).  Under each LR: its
draws in short: the first blur kernel, the JPEG qualities of both orders, and the noise of both
orders (``g`` Gaussian with its sigma, ``p`` Poisson with its scale, ``G`` grey).  docs/training.md shows the picture this makes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow, require_files  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402

KINDS = ("iso", "aniso", "gen-iso", "gen-aniso", "plat-iso", "plat-aniso")
LABEL_HEIGHT = 12


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--images", nargs="+", required=True, help="HR images, one row each")
    p.add_argument("--output", required=True, help="PNG to write")
    p.add_argument("--degradation", default="realistic", help="a realistic[:...] spec")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--patch", type=int, default=96, help="HR patch side")
    p.add_argument("--samples", type=int, default=6, help="LR draws per row")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--zoom", type=int, default=2, help="enlargement of every panel (nearest)")
    return p.parse_args(argv)


def label(p: dict) -> str:
    """A short summary of one draw: kernel, JPEG qualities, noise of the two orders."""
    kernel = "sinc" if p["blur1_sinc"] else KINDS[p["blur1_kind"]]
    noise = "".join(
        f" {'g' if p[f'{t}_gaussian'] else 'p'}{'G' if p[f'{t}_gray'] else ''}"
        + (f"{p[f'{t}_sigma']:.0f}" if p[f"{t}_gaussian"] else f"{p[f'{t}_poisson']:.1f}")
        for t in ("noise1", "noise2")
    )
    return f"{kernel} q{p['jpeg1_quality']}/{p['jpeg2_quality']}{noise}"


def sample_grid(
    images: list[np.ndarray],
    spec: str,
    scale: int,
    patch: int,
    samples: int,
    seed: int,
    zoom: int = 1,
) -> np.ndarray:
    """uint8 RGB: per image a row of its centre HR patch and ``samples`` LR draws, labelled."""
    import tensorflow as tf
    from PIL import Image, ImageDraw

    from sr_tf.degradations import Realistic, element_key, parse_degradation

    degradation = parse_degradation(spec)
    if not isinstance(degradation, Realistic):
        raise UserError(f"--degradation must be realistic[:...], got {spec!r}")
    gap, side = 4, patch * zoom
    cell = side + LABEL_HEIGHT
    canvas = Image.new(
        "RGB", ((samples + 1) * (side + gap) - gap, len(images) * (cell + gap) - gap), "white"
    )
    draw = ImageDraw.Draw(canvas)
    for row, image in enumerate(images):
        h, w = image.shape[:2]
        if min(h, w) < patch:
            raise UserError(f"image {row + 1} is smaller than a {patch}x{patch} patch")
        y, x = (h - patch) // 2, (w - patch) // 2
        hr = image[y : y + patch, x : x + patch, :3]
        top = row * (cell + gap)
        canvas.paste(Image.fromarray(_enlarge(hr, zoom)), (0, top))
        draw.text((2, top + side), "HR", fill="black")
        hr_float = tf.constant(hr, tf.float32) / 255
        for j in range(samples):
            key = element_key(seed, row * samples + j)
            lr = degradation(hr_float, scale, key).numpy()
            lr = np.round(lr * 255).astype(np.uint8)
            left = (j + 1) * (side + gap)
            canvas.paste(Image.fromarray(_enlarge(lr, scale * zoom)), (left, top))
            draw.text((left + 1, top + side), label(degradation.parameters(key)), fill="black")
    return np.asarray(canvas)


def _enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    require_files(args.images, "--images")
    from sr_tf.imageio import read_image, write_image

    images = [read_image(p) for p in args.images]
    images = [np.repeat(im, 3, axis=2) if im.shape[2] == 1 else im for im in images]
    grid = sample_grid(
        images, args.degradation, args.scale, args.patch, args.samples, args.seed, args.zoom
    )
    write_image(args.output, grid)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
