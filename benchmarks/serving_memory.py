#!/usr/bin/env python
"""Memory and time of the exported SavedModel in a fresh process that imports only TensorFlow.

    nice -n 5 python benchmarks/serving_memory.py                # edsr-x4, 1 GB per request
    python benchmarks/serving_memory.py --max-memory 1.5GB --work /tmp/serving_bench

Steps (each measured process is a fresh subprocess, so its peak RSS is its own):

1. Test photos from real ones: a 2040x1356 mosaic (the size of a DIV2K image) of 30 centre crops
   (408x226 each, 5 across, 6 down) of the first 30 photos of ../shared/data/BSDS500-test200 in
   name order, at their own resolution (portrait photos turned a quarter first); and its
   top-left 1020x678 quarter.
2. ``export.py --model MODEL --max-memory BUDGET`` into the work folder.
3. Serve the 2040x1356 PNG once through ``serving_default`` (bytes in, PNG out, x4: 8160x5424):
   time of the request, CPU seconds, RSS after loading, peak RSS.  The process imports only
   TensorFlow.  The same for the 1020x678 PNG.
4. Four concurrent requests of a 510x339 crop from four threads in one such process: peak RSS
   against RSS after loading plus 4 x the budget.
5. ``resolve_image.py`` on the 1020x678 photo with its defaults and with the served model's tile
   and overlap (time, CPU seconds, peak RSS), compared pixel by pixel with the served result;
   ``--resolve-large`` also runs it with its defaults on the 2040x1356 photo.

The numbers in docs/serving.md were measured this way (on a heavily loaded machine, the steps
were started side by side by hand with the same child scripts).

Prints a JSON summary (also written to ``<work>/serving_memory.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "BSDS500-test200"
SIZE = (1356, 2040)  # height, width
CELL = (226, 408)

# The measured child: TensorFlow and the standard library only.
SERVE = r"""
import json, resource, sys, threading, time
import tensorflow as tf

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

version, image_path, copies, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
model = tf.saved_model.load(version)
serve = model.signatures["serving_default"]
meta = {k: v.numpy() for k, v in model.signatures["metadata"](unused=tf.constant(0, tf.int64)).items()}
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

cpu_loaded = cpu()
loaded_rss = rss_mb()
loaded_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
data = open(image_path, "rb").read()
outputs, times = [None] * copies, [None] * copies

def request(i):
    t0 = time.perf_counter()
    outputs[i] = serve(images=tf.constant([data]))["output_bytes"].numpy()[0]
    times[i] = time.perf_counter() - t0

t0 = time.perf_counter()
threads = [threading.Thread(target=request, args=(i,)) for i in range(copies)]
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.perf_counter() - t0
open(out_path, "wb").write(outputs[0])
print("RESULT " + json.dumps({
    "requests": copies,
    "wall_s": wall,
    "request_s": times,
    "rss_after_load_mb": loaded_rss,
    "peak_after_load_mb": loaded_peak,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "cpu_s": cpu() - cpu_loaded,
    "identical_outputs": all(o == outputs[0] for o in outputs),
    "png_mb": len(outputs[0]) / 1e6,
    "tile": int(meta["tile"]), "max_pixels": int(meta["max_pixels"]),
    "max_memory_mb": int(meta["max_memory"]) / 2**20, "precision": meta["precision"].decode(),
    "sr_tf_imported": any(m == "sr_tf" or m.startswith("sr_tf.") for m in sys.modules),
}))
"""

# resolve_image.py run as a script inside a wrapper that reports its peak RSS and wall time.
RESOLVE = r"""
import json, resource, runpy, sys, time
t0 = time.perf_counter()
sys.argv = ["resolve_image.py"] + sys.argv[1:]
code = 0
try:
    runpy.run_path("resolve_image.py", run_name="__main__")
except SystemExit as exit:
    code = exit.code or 0
print("RESULT " + json.dumps({
    "exit": code, "wall_s": time.perf_counter() - t0,
    "cpu_s": resource.getrusage(resource.RUSAGE_SELF).ru_utime
    + resource.getrusage(resource.RUSAGE_SELF).ru_stime,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def make_photos(work: Path) -> tuple[Path, Path]:
    """The 2040x1356 mosaic of real photos and its 1020x678 quarter (see the module doc)."""
    import numpy as np
    from PIL import Image

    big, small = work / "photo_2040x1356.png", work / "photo_1020x678.png"
    if big.exists() and small.exists():
        return big, small
    files = sorted(DATA.glob("*.png")) + sorted(DATA.glob("*.jpg"))
    rows, cols = SIZE[0] // CELL[0], SIZE[1] // CELL[1]
    if len(files) < rows * cols:
        sys.exit(f"need {rows * cols} photos in {DATA}, found {len(files)}")
    mosaic = np.zeros((*SIZE, 3), np.uint8)
    for i, path in enumerate(files[: rows * cols]):
        photo = np.asarray(Image.open(path).convert("RGB"))
        h, w = photo.shape[:2]
        top, left = (h - CELL[0]) // 2, (w - CELL[1]) // 2
        if top < 0 or left < 0:  # a portrait photo: turn it
            photo = np.rot90(photo)
            h, w = photo.shape[:2]
            top, left = (h - CELL[0]) // 2, (w - CELL[1]) // 2
        r, c = divmod(i, cols)
        crop = photo[top : top + CELL[0], left : left + CELL[1]]
        mosaic[r * CELL[0] : (r + 1) * CELL[0], c * CELL[1] : (c + 1) * CELL[1]] = crop
    Image.fromarray(mosaic).save(big)
    Image.fromarray(mosaic[: SIZE[0] // 2, : SIZE[1] // 2]).save(small)
    return big, small


def run(args: list[str], label: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{label} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    result["stderr_tail"] = done.stderr.strip().splitlines()[-1:] if done.stderr.strip() else []
    print(f"{label}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return result


def compare(a: Path, b: Path) -> dict:
    import numpy as np
    from PIL import Image

    x = np.asarray(Image.open(a)).astype(int)
    y = np.asarray(Image.open(b)).astype(int)
    if x.shape != y.shape:
        return {"shapes": [list(x.shape), list(y.shape)]}
    diff = np.abs(x - y)
    return {"max_diff": int(diff.max()), "fraction_differing": float(np.mean(diff > 0))}


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="edsr-x4")
    p.add_argument("--max-memory", default="1GB", help="export.py --max-memory")
    p.add_argument("--precision", default="auto", help="export.py --precision")
    p.add_argument("--work", default="/tmp/sr_tf_serving_bench", help="scratch folder")
    p.add_argument("--skip-resolve", action="store_true", help="do not run resolve_image.py")
    p.add_argument(
        "--resolve-large", action="store_true", help="also resolve_image.py on 2040x1356"
    )
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    big, small = make_photos(work)
    base = work / "exported"
    export = subprocess.run(
        [
            sys.executable,
            "export.py",
            "--model",
            args.model,
            "--max-memory",
            args.max_memory,
            "--precision",
            args.precision,
            "--output",
            str(base),
        ],
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
    )
    if export.returncode != 0:
        sys.exit(export.stderr[-2000:])
    version = str(sorted(base.iterdir(), key=lambda p: int(p.name))[-1])
    summary = {
        "model": args.model,
        "export": export.stdout.strip(),
        "photos": [str(big), str(small)],
    }

    served_big = work / "served_2040x1356_x4.png"
    summary["serve_2040x1356"] = run(
        [sys.executable, "-c", SERVE, version, str(big), "1", str(served_big)], "serve 2040x1356"
    )
    served_small = work / "served_1020x678_x4.png"
    summary["serve_1020x678"] = run(
        [sys.executable, "-c", SERVE, version, str(small), "1", str(served_small)],
        "serve 1020x678",
    )
    crop = work / "photo_510x339.png"
    if not crop.exists():
        from PIL import Image

        Image.open(small).crop((0, 0, 510, 339)).save(crop)
    summary["serve_4x510x339_threads"] = run(
        [sys.executable, "-c", SERVE, version, str(crop), "4", str(work / "served_510x339.png")],
        "4 concurrent 510x339",
    )
    if not args.skip_resolve:
        tile = summary["serve_1020x678"]["tile"]
        for label, extra in (("default", []), ("same_tiles", ["--tile", str(tile)])):
            target = work / f"resolve_1020x678_{label}.png"
            summary[f"resolve_1020x678_{label}"] = run(
                [sys.executable, "-c", RESOLVE, str(small), "--model", args.model]
                + ["--precision", args.precision, "--tile-overlap", "16", "--output", str(target)]
                + extra,
                f"resolve_image.py 1020x678 {label}",
            )
            summary[f"served_vs_resolve_{label}_1020x678"] = compare(served_small, target)
    if args.resolve_large:
        target = work / "resolve_2040x1356_default.png"
        summary["resolve_2040x1356_default"] = run(
            [sys.executable, "-c", RESOLVE, str(big), "--model", args.model]
            + ["--precision", args.precision, "--output", str(target)],
            "resolve_image.py 2040x1356",
        )
        summary["served_vs_resolve_default_2040x1356"] = compare(served_big, target)
    text = json.dumps(summary, indent=2)
    (work / "serving_memory.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
