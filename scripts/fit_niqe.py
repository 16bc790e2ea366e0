#!/usr/bin/env python
"""Fit NIQE's pristine Gaussian on natural HR photos and write sr_tf/shipped/niqe_pristine.npz.

    python scripts/fit_niqe.py ../shared/data/T91 ../shared/data/BSD200

The sharp 96x96 patches of every image (mean local sigma above 0.75 of the image's sharpest
patch; sr_tf/niqe.py) give one 36-feature Gaussian.  The command, the folders and the image
names are stored in the file (``info``).  Benchmark sets (Set5, Set14) are refused.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.cli import quiet_tensorflow  # noqa: E402
from sr_tf.errors import UserError, run_cli  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEST_SETS = {"set5", "set14", "b100", "bsd100", "urban100", "manga109"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("folders", nargs="+", help="folders of pristine HR images")
    p.add_argument(
        "--output",
        default=str(REPO / "sr_tf" / "shipped" / "niqe_pristine.npz"),
        help="where to write the model (default: the shipped file)",
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    from sr_tf.imageio import list_images, read_image
    from sr_tf.niqe import PATCH, fit_pristine, save_pristine

    paths, skipped = [], []
    for folder in map(Path, args.folders):
        if folder.name.lower() in TEST_SETS:
            raise UserError(f"{folder} is a benchmark test set; fit on training images only")
        found = list_images(folder)
        if not found:
            raise UserError(f"no images in {folder}")
        paths += [(folder, p) for p in found]

    def images():
        for folder, path in paths:
            image = read_image(path)[:, :, :3]
            if min(image.shape[:2]) < PATCH:
                skipped.append(f"{folder.name}/{path.name}")
                continue
            yield image

    start = time.time()
    command = "python scripts/fit_niqe.py " + " ".join(
        shlex.quote(Path(f).as_posix()) for f in args.folders
    )
    used = [f"{folder.name}/{p.relative_to(folder).as_posix()}" for folder, p in paths]
    model = fit_pristine(images(), info={"command": command})
    model.info["skipped (smaller than 96 px)"] = skipped
    model.info["files"] = [u for u in used if u not in skipped]
    save_pristine(model, args.output)
    print(
        f"{model.info['patches']} sharp patches from {model.info['images']} images "
        f"({len(skipped)} too small: {', '.join(skipped) or '-'}) in {time.time() - start:.0f} s"
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    run_cli(main)
