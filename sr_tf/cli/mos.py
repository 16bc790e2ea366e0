"""Mean-opinion-score studies, as the SRGAN paper ran them: prepare, rate in a browser, report.

    sr-mos prepare edsr-x4 srgan-x4 --images ../shared/data/Set5 --output studies/x4
    sr-mos serve studies/x4                    # http://127.0.0.1:8000/ ; --host 0.0.0.0 for a LAN
    sr-mos raters studies/x4                   # progress, anchor check
    sr-mos exclude studies/x4 bob --reason "rated HR below nearest"
    sr-mos report studies/x4                   # studies/x4/report/: mos.md, mos.png, CSV, JSON
    sr-mos simulate --raters 5,10,26 --images 5,19,100   # CI width on simulated ratings

Methods are shipped models (edsr-x4), renamed ones (mine=srgan-x4) or an architecture with
weights (mine=srresnet:runs/gan/best.weights.h5).  The anchors hr, nearest and bicubic are
added (--anchors).  See docs/mos.md.  Only ``prepare`` loads TensorFlow.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from sr_tf.cli import add_precision, add_verbose, quiet_tensorflow
from sr_tf.errors import UserError, run_cli

DEFAULT_PORT = 8000


def _crop(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        size = (int(width), int(height or width))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: give N or WxH pixels") from err
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be positive")
    return size


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers like 5,10,26") from err
    if not counts or min(counts) < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: give counts of at least 2")
    return counts


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="sr-mos", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prep = sub.add_parser("prepare", help="make a study folder: every method's x4 outputs")
    prep.add_argument(
        "methods",
        nargs="*",
        metavar="METHOD",
        help="shipped model, NAME=SHIPPED or NAME=ARCHITECTURE:WEIGHTS (weights file or "
        "train.py folder)",
    )
    prep.add_argument("--images", nargs="+", required=True, help="HR test images or folders")
    prep.add_argument("-o", "--output", required=True, help="the study folder to write")
    prep.add_argument(
        "--anchors",
        type=_names,
        default=["hr", "nearest", "bicubic"],
        help="anchors rated with the methods (default: hr,nearest,bicubic)",
    )
    prep.add_argument(
        "--low-anchor",
        choices=("nearest", "bicubic"),
        default="nearest",
        help="the calibration's score-1 example (default: nearest, as the paper)",
    )
    prep.add_argument(
        "--calibration",
        nargs="+",
        help="images or folders for calibration, apart from the test images (the paper used "
        "BSD300 training images); default: the first test images",
    )
    prep.add_argument(
        "--calibration-count",
        type=int,
        default=2,
        help="calibration images, each shown as HR (5) and low anchor (1) (default: 2)",
    )
    prep.add_argument(
        "--crop",
        type=_crop,
        help="show the same centre crop of every version: N or WxH HR pixels (default: whole)",
    )
    prep.add_argument("--scale", type=int, help="upscaling factor (default: the models')")
    prep.add_argument("--seed", type=int, help="item ids and raters' orders (default: random)")
    prep.add_argument("--tile", type=int, help="tile side in LR pixels (default: automatic)")
    prep.add_argument("--max-memory", help="memory budget, e.g. 2GB (as resolve_image.py)")
    add_precision(prep, default="float32")
    add_verbose(prep)

    srv = sub.add_parser("serve", help="the rating page for raters")
    srv.add_argument("study", help="a study folder")
    srv.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for a LAN)",
    )
    srv.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}; 0 picks one"
    )
    srv.add_argument(
        "--no-verify", action="store_true", help="skip checking the images' sha256 at start"
    )

    rep = sub.add_parser("report", help="MOS, intervals, tests, chart, CSV, Markdown")
    rep.add_argument("study", help="a study folder")
    rep.add_argument("-o", "--output", help="report folder (default: STUDY/report)")
    rep.add_argument("--boot", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    rep.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    rep.add_argument(
        "--complete-only",
        action="store_true",
        help="count only raters who rated every item",
    )
    rep.add_argument("--title", help="the report's title")

    rat = sub.add_parser("raters", help="list raters: progress, calibration, exclusion")
    rat.add_argument("study", help="a study folder")

    exc = sub.add_parser("exclude", help="leave a rater out of reports")
    exc.add_argument("study", help="a study folder")
    exc.add_argument("rater")
    exc.add_argument("--reason", default="", help="recorded and shown in the report")

    inc = sub.add_parser("include", help="count an excluded rater again")
    inc.add_argument("study", help="a study folder")
    inc.add_argument("rater")

    sim = sub.add_parser("simulate", help="CI width by raters and images, on simulated ratings")
    sim.add_argument("--raters", type=_counts, default=[5, 10, 26], help="default: 5,10,26")
    sim.add_argument("--images", type=_counts, default=[5, 19, 100], help="default: 5,19,100")
    sim.add_argument("--mean", type=float, default=3.0, help="mean score (default: 3)")
    sim.add_argument("--rater-sd", type=float, default=0.5, help="default: 0.5")
    sim.add_argument("--image-sd", type=float, default=0.5, help="default: 0.5")
    sim.add_argument("--noise-sd", type=float, default=0.7, help="default: 0.7")
    sim.add_argument("--repeats", type=int, default=20, help="simulated studies per cell")
    sim.add_argument("--boot", type=int, default=500, help="bootstrap resamples (default: 500)")
    sim.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def prepare(args: argparse.Namespace, argv) -> int:
    quiet_tensorflow(args.verbose)
    from sr_tf.inference import parse_memory
    from sr_tf.mos.prepare import parse_method, prepare_study

    if args.max_memory is not None:
        parse_memory(args.max_memory)
    methods = [parse_method(text) for text in args.methods]
    command = shlex.join(["sr-mos", *(sys.argv[1:] if argv is None else argv)])
    prepare_study(
        methods,
        args.images,
        args.output,
        anchors=args.anchors,
        calibration_images=args.calibration,
        calibration_count=args.calibration_count,
        low_anchor=args.low_anchor,
        crop=args.crop,
        scale=args.scale,
        seed=args.seed,
        precision=args.precision,
        tile=args.tile,
        max_memory=args.max_memory,
        command=command,
    )
    return 0


def raters_table(rows: list[dict]) -> str:
    """The raters as a plain-text table."""
    if not rows:
        return "no raters yet"
    lines = [("rater", "rated", "calibrated", "status")]
    for r in rows:
        status = "excluded" + (f": {r['reason']}" if r["reason"] else "") if r["excluded"] else ""
        lines.append(
            (r["rater"], f"{r['rated']}/{r['total']}", "yes" if r["calibrated"] else "no", status)
        )
    widths = [max(len(row[i]) for row in lines) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in lines
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == "prepare":
        return prepare(args, argv)
    if args.command == "simulate":
        from sr_tf.mos.simulate import Spread, width_table

        spread = Spread(args.mean, args.rater_sd, args.image_sd, args.noise_sd)
        print(width_table(args.raters, args.images, spread, args.repeats, args.boot, args.seed))
        return 0

    from sr_tf.mos.store import Store
    from sr_tf.mos.study import load_study

    study = load_study(args.study)
    if args.command == "serve":
        from sr_tf.mos.server import serve

        if not 0 <= args.port <= 65535:
            raise UserError(f"--port {args.port}: use 0-65535")
        serve(study, args.host, args.port, verify=not args.no_verify)
        return 0
    if args.command == "report":
        from sr_tf.mos.report import mos_table, write_report

        paths, analysis = write_report(
            study, args.output, args.boot, args.seed, args.complete_only, args.title
        )
        print(mos_table(analysis))
        print(
            f"{analysis.ratings} ratings from {len(analysis.raters)} raters; wrote "
            f"{paths['markdown']} ({paths['chart'].name}, {paths['json'].name}, "
            f"{paths['csv'].name})"
        )
        return 0
    store = Store.for_study(study, create=False)
    if args.command == "raters":
        print(raters_table(store.raters()))
    elif args.command in ("exclude", "include"):
        store.set_excluded(args.rater, args.command == "exclude", getattr(args, "reason", ""))
        print(
            f"{args.rater}: {'excluded from' if args.command == 'exclude' else 'counted in'} reports"
        )
    return 0


def run() -> None:
    """The console entry point: exit codes and one-line errors (``run_cli``)."""
    run_cli(main)


if __name__ == "__main__":
    run()
