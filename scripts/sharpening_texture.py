#!/usr/bin/env python
"""How much of the texture measure an unsharp mask buys: the reference for a GAN's texture.

    python scripts/sharpening_texture.py srresnet-x4 --data ../shared/data/Set14 \\
        --amounts 0 0.5 1 1.5 --sigma 1

Upscales each image of --data (HR cropped to the scale, LR by the benchmark's bicubic) with the
model, sharpens the output with an unsharp mask (out + amount x (out - Gaussian blur of out at
--sigma), on RGB, rounded to 8 bits) and prints, per amount, the means of Y-PSNR, SSIM,
Cb/Cr PSNR (colour images only) and texture (``evaluate.py --metrics texture``: mean luma
gradient magnitude over HR's), border cut as in ``evaluate.py``. Sharpening adds no detail the
model did not draw: it raises the contrast of what is there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", help="a shipped name or label=architecture:weights")
    p.add_argument("--data", required=True, help="folder of HR images")
    p.add_argument("--amounts", type=float, nargs="+", default=[0.0, 0.5, 1.0, 1.5])
    p.add_argument("--sigma", type=float, default=1.0, help="the mask's Gaussian (pixels)")
    p.add_argument("--scale", type=int, default=None, help="scale of a label=... model")
    return p.parse_args(argv)


def unsharp_mask(image: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    """uint8 [H, W, C] image + amount x (image - its Gaussian blur), rounded to uint8."""
    from sr_tf.losses_artefacts import gaussian_blur

    pixels = image.astype(np.float32)
    blurred = gaussian_blur(pixels[None], sigma)[0].numpy()
    return np.clip(np.round(pixels + amount * (pixels - blurred)), 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    from sr_tf.artefacts import has_colour, psnr_cbcr, texture_ratio
    from sr_tf.evaluation import benchmark_pair, model_upscale
    from sr_tf.imageio import list_images
    from sr_tf.metrics import psnr_y, ssim_y
    from sr_tf.pretrained import load_labelled_models

    if args.sigma <= 0:
        raise UserError("--sigma must be > 0")
    paths = list_images(args.data)
    ((label, model),), scale = load_labelled_models([args.model], args.scale)
    rows = {amount: [] for amount in args.amounts}
    for path in paths:
        hr, lr = benchmark_pair(path, scale)
        sr = model_upscale(model, lr, scale)
        colour = has_colour(hr)
        for amount in args.amounts:
            out = unsharp_mask(sr, amount, args.sigma)
            cbcr = psnr_cbcr(out, hr, shave=scale) if colour else np.nan
            rows[amount].append(
                (
                    psnr_y(out, hr, shave=scale),
                    ssim_y(out, hr, shave=scale),
                    cbcr,
                    texture_ratio(out, hr, shave=scale),
                )
            )
    print(f"{label}, {len(paths)} images, unsharp mask sigma {args.sigma:g}")
    print(f"{'amount':>7} {'Y-PSNR':>8} {'SSIM':>7} {'Cb/Cr':>7} {'texture':>8}")
    for amount, values in rows.items():
        y, ssim, cbcr, texture = np.nanmean(np.array(values), axis=0)
        print(f"{amount:>7g} {y:>8.2f} {ssim:>7.4f} {cbcr:>7.2f} {texture:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
