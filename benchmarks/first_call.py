#!/usr/bin/env python
"""Where the time of one photo goes, the way ``python resolve_image.py photo.png`` spends it.

    python benchmarks/first_call.py                        # 640x480 and 2040x1356, auto + float32
    python benchmarks/first_call.py --code before=/tmp/old --code after=.   # two versions, interleaved
    python benchmarks/first_call.py --photos 640x480 --precision auto --repeat 3
    python benchmarks/first_call.py --shapes      # does a new photo size cost a compilation?

Every (code, photo, precision) runs in a fresh process that does what ``resolve_image.py`` does
for one photo (``load_generator``, ``TiledUpscaler``, ``upscale_uint8``, ``write_image``), with a
clock between the steps:

* **python**: from starting the process to its first line (interpreter start);
* **import**: TensorFlow and sr_tf;
* **load**: the shipped model (``edsr-x4``) from ``sr_tf/shipped``;
* **upscaler**: ``TiledUpscaler`` (the precision copy, the cut before the upsampler);
* **read**: reading the photo;
* **plan**: the memory plan, which counts the model's activations on traced graphs;
* **trace**: tracing the ``tf.function`` the tiles run through (once per process);
* **instantiate**: its first execution, on an 8x8 input (graph optimisation, oneDNN set-up);
* **compile**: the first call on the photo minus the second (oneDNN builds its kernels for each
  new tensor shape on first use, and the first call at a size allocates its buffers);
* **compute**: the second call on the same photo (the steady state);
* **png**: ``write_image`` of the output;
* **exit**: from the last step to the process's end (TensorFlow's teardown).

The photos are real: a 2040x1356 mosaic of 30 BSDS500-test200 photos (``serving_memory.py``
makes it) and its top-left 640x480 crop.  ``--code LABEL=DIR`` runs the sr_tf found in DIR (a
checkout, or ``git archive`` of an older commit); several are interleaved photo by photo, so a
before/after comparison shares the machine's load.  Times are wall clock, with the process's
CPU seconds (all threads) in brackets: on a shared machine those move less.

``--shapes`` asks whether photos of many sizes pay more than photos of one size: in one fresh
process per precision, after a first photo, eight crops of eight different sizes (about 200x300
input pixels each), the same eight again, then eight crops of one size, each pass timed.

Results go to ``benchmarks/first_call_results.json`` (``--output``; ``steps`` and ``shapes``
are kept apart); a Markdown table is printed.
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
STEPS = (
    "python", "import", "load", "upscaler", "read", "plan", "trace", "instantiate", "compile",
    "compute", "png", "exit",
)  # fmt: skip

# The measured child: the steps of resolve_image.py for one photo, each timed.
CHILD = r"""
import json, os, sys, tempfile, time
def now():
    return [time.perf_counter(), time.process_time()]
marks = {"start": now()}
import tensorflow as tf
import numpy as np
from sr_tf.imageio import read_image, write_image
from sr_tf.inference import TiledUpscaler
from sr_tf.pretrained import load_generator
marks["import"] = now()
path, precision, model_name = sys.argv[1], sys.argv[2], sys.argv[3]
model, scale = load_generator(model_name, None, None)
marks["load"] = now()
up = TiledUpscaler(model, scale, precision=precision)
marks["upscaler"] = now()
image = read_image(path)
marks["read"] = now()
plan = up.plan(image.shape[0], image.shape[1], out_bytes_per_px=image.shape[2])
marks["plan"] = now()
up._function(plan.group, plan.tile_h == plan.tile_w).get_concrete_function()
marks["trace"] = now()
up.run_batch(np.zeros((1, 8, 8, 3), np.float32), plan.group)  # instantiates the graph
marks["instantiate"] = now()
shapes = set()
run_batch = up.run_batch
def recording(tiles, *args, **kwargs):
    shapes.add(tuple(tiles.shape))
    return run_batch(tiles, *args, **kwargs)
up.run_batch = recording
out = up.upscale_uint8(image)
marks["first_call"] = now()
again = up.upscale_uint8(image)
marks["second_call"] = now()
try:  # the PNG level resolve_image.py writes at (older versions: PIL's default)
    from sr_tf.inference.files import PNG_LEVEL
    options = {"compress_level": PNG_LEVEL}
except ImportError:
    options = {}
with tempfile.TemporaryDirectory() as tmp:
    write_image(os.path.join(tmp, "out.png"), out, **options)
marks["png"] = now()
print("RESULT " + json.dumps({
    "marks": marks, "precision": up.precision, "tile": [plan.tile_h, plan.tile_w],
    "tiles": plan.count, "strip_rows": plan.strip_rows, "tile_shapes": sorted(shapes),
    "output_mp": out.shape[0] * out.shape[1] / 1e6, "same_output": bool(np.array_equal(out, again)),
}), flush=True)
"""


# The --shapes child: upscale_uint8 on crops of one photo, in three passes.
SHAPES_CHILD = r"""
import json, sys, time
import numpy as np
from PIL import Image
from sr_tf.inference import TiledUpscaler
from sr_tf.pretrained import load_generator
path, precision, model_name = sys.argv[1], sys.argv[2], sys.argv[3]
model, scale = load_generator(model_name, None, None)
up = TiledUpscaler(model, scale, precision=precision)
photo = np.asarray(Image.open(path).convert("RGB"))
up.upscale_uint8(photo[:100, :100])  # the first call of the process: plan, trace, graph set-up
sizes = [(200 + 7 * i, 300 - 5 * i) for i in range(8)]
passes = {"eight sizes": sizes, "the same eight again": sizes, "one size, eight times": [sizes[0]] * 8}
result = {"precision": up.precision, "sizes": sizes}
for label, shapes in passes.items():
    wall, cpu = time.perf_counter(), time.process_time()
    for i, (h, w) in enumerate(shapes):
        up.upscale_uint8(photo[50 * i : 50 * i + h, 60 * i : 60 * i + w])
    result[label] = [time.perf_counter() - wall, time.process_time() - cpu]
print("RESULT " + json.dumps(result), flush=True)
"""


def photos(work: Path) -> dict[str, Path]:
    """The 2040x1356 mosaic of real photos and its 640x480 crop (``serving_memory.make_photos``)."""
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from serving_memory import make_photos

    big, _ = make_photos(work)
    small = work / "photo_640x480.png"
    if not small.exists():
        with Image.open(big) as img:
            img.crop((0, 0, 640, 480)).save(small)
    return {"2040x1356": big, "640x480": small}


def run(script: str, code: Path, photo: Path, precision: str, model: str) -> dict:
    """``script`` in a fresh process with ``code`` on its path; its RESULT and wall times."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(code)}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, str(photo), precision, model],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
    )
    end = time.perf_counter()
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{code} {photo.name} {precision} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(lines[-1][len("RESULT ") :]), "spawned": t0, "ended": end}


def measure(code: Path, photo: Path, precision: str, model: str) -> dict:
    """One fresh process: the steps' times in seconds, and what ran."""
    result = run(CHILD, code, photo, precision, model)
    t0, end = result.pop("spawned"), result.pop("ended")
    m = result.pop("marks")
    for clock, key in ((0, "seconds"), (1, "cpu_seconds")):
        t = {name: mark[clock] for name, mark in m.items()}
        first = t["first_call"] - t["instantiate"]
        second = t["second_call"] - t["first_call"]
        result[key] = {
            "import": t["import"] - t["start"],
            "load": t["load"] - t["import"],
            "upscaler": t["upscaler"] - t["load"],
            "read": t["read"] - t["upscaler"],
            "plan": t["plan"] - t["read"],
            "trace": t["trace"] - t["plan"],
            "instantiate": t["instantiate"] - t["trace"],
            "first_call": first,
            "compile": first - second,
            "compute": second,
            "png": t["png"] - t["second_call"],
        }
    # Wall clock only: interpreter start and TensorFlow's teardown, seen from this process.
    result["seconds"]["python"] = m["start"][0] - t0
    result["seconds"]["exit"] = end - m["png"][0]
    # What a user waits for: everything except the second call.
    result["seconds"]["total"] = end - t0 - result["seconds"]["compute"]
    return result


def table(results: list[dict]) -> str:
    """Markdown: seconds per step (wall clock; CPU seconds of the process in brackets)."""
    head = ["code", "photo", "precision", "tiles"] + list(STEPS) + ["total", "first call MP/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in results:
        s, c = r["seconds"], r["cpu_seconds"]
        tile = f"{r['tiles']} of {r['tile'][1]}x{r['tile'][0]}"
        cells = [r["code"], r["photo"], r["precision"], tile]
        cells += [f"{s[k]:.2f}" + (f" ({c[k]:.2f})" if k in c else "") for k in STEPS]
        cells.append(f"{s['total']:.1f}")
        cells.append(
            f"{r['output_mp'] / (s['plan'] + s['trace'] + s['instantiate'] + s['first_call']):.3f}"
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def shapes_table(results: list[dict]) -> str:
    """Markdown: seconds per pass of eight photos (wall clock; CPU seconds in brackets)."""
    passes = ("eight sizes", "the same eight again", "one size, eight times")
    lines = ["| code | precision | " + " | ".join(passes) + " |", "|" + " --- |" * 5]
    for r in results:
        cells = [f"{r[k][0]:.2f} ({r[k][1]:.2f})" for k in passes]
        lines.append(f"| {r['code']} | {r['precision']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--code", action="append", help="LABEL=DIR with sr_tf (default: this checkout)")
    p.add_argument("--photos", default="640x480,2040x1356")
    p.add_argument("--precision", default="auto,float32")
    p.add_argument("--model", default="edsr-x4")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--work", default="/tmp/sr_tf_first_call", help="folder for the photos")
    p.add_argument("--output", default=str(REPO / "benchmarks" / "first_call_results.json"))
    p.add_argument("--shapes", action="store_true", help="many photo sizes against one size")
    args = p.parse_args()
    codes = dict(item.split("=", 1) for item in (args.code or [f"this={REPO}"]))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    files = photos(work)
    output = Path(args.output)
    record = json.loads(output.read_text()) if output.exists() else {}
    results = []
    for _ in range(args.repeat):
        for name in args.photos.split(",") if not args.shapes else ["2040x1356"]:
            for precision in args.precision.split(","):
                for label, code in codes.items():
                    if args.shapes:
                        r = run(
                            SHAPES_CHILD, Path(code).resolve(), files[name], precision, args.model
                        )
                        r.pop("spawned"), r.pop("ended")
                        r["code"] = label
                        print(json.dumps(r), file=sys.stderr, flush=True)
                    else:
                        r = measure(Path(code).resolve(), files[name], precision, args.model)
                        r.update(code=label, photo=name, requested_precision=precision)
                        print(table([r]).splitlines()[-1], file=sys.stderr, flush=True)
                    r["load_average"] = os.getloadavg()[0]
                    results.append(r)
    record["shapes" if args.shapes else "steps"] = {
        "command": " ".join(["python", "benchmarks/first_call.py", *sys.argv[1:]]),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu_count": os.cpu_count(),
        "results": results,
    }
    output.write_text(json.dumps(record, indent=1) + "\n")
    print(shapes_table(results) if args.shapes else table(results))


if __name__ == "__main__":
    main()
