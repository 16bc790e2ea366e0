#!/usr/bin/env python
"""This project's upscaler side by side with OpenCV's ``dnn_superres`` (ESPCN, FSRCNN, LapSRN).

    pip install -r benchmarks/requirements.txt     # opencv-contrib-python-headless<5
    python benchmarks/peers.py                     # all parts, writes benchmarks/peers_results.json
    python benchmarks/peers.py --only speed --update   # one part again, keep the others
    python benchmarks/peers.py --report            # the Markdown tables from the JSON
    python benchmarks/peers.py --quick             # tiny run: checks the script, writes nothing

Methods: ``resolve_image.py``'s model path (the shipped ``edsr-x4``, ``edsr-x3``, ``edsr-x2``
through ``load_generator`` and ``TiledUpscaler.upscale_uint8`` with its defaults) in float32 and
with ``--precision auto``; OpenCV's ESPCN, FSRCNN and LapSRN (``../shared/peers/opencv``) at the
scales they exist for.  Parts, all in one run on the same images:

* ``quality``: Set5 and Set14 PSNR/SSIM on the standard protocol (``sr_tf.evaluation``: HR
  cropped to the scale, MATLAB-bicubic uint8 LR, BT.601 Y, ``scale`` border pixels cut).  OpenCV
  gets the same uint8 LR in BGR order; a grey image goes in as three equal channels and its
  output back to grey with ``rgb_to_gray``, as for this project's models.
* ``speed``: output megapixels per second on real photos (crops of a mosaic of BSDS500-test200
  photos, ``serving_memory.make_photos``), each method and photo in a fresh process after its
  model is loaded: the *first call* (what one ``resolve_image.py photo.png`` pays: memory plan,
  tracing, kernel preparation, compute) and, for photos up to 640x480, the second call on the
  same photo (steady state).
* ``process``: one 640x480 photo x4 from the command line, whole process: ``python
  resolve_image.py photo.png --output out.png`` against a 6-line ``python -c`` OpenCV script
  that loads its model, reads, upscales and writes the PNG.  Wall time and peak RSS of the child
  (``RUSAGE_CHILDREN`` in a wrapper process that runs only that child), three rounds
  interleaved, median wall time.

Both sides use the machine's 2 cores (TensorFlow's and OpenCV's default thread pools).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
PEERS = REPO.parent / "shared" / "peers" / "opencv"
RESULTS = REPO / "benchmarks" / "peers_results.json"
PARTS = ("quality", "speed", "process")
OURS = {"edsr float32": "float32", "edsr auto": "auto"}
OPENCV = {"espcn": "ESPCN", "fsrcnn": "FSRCNN", "lapsrn": "LapSRN"}
METHODS = (*OURS, *OPENCV)
SCALES = (2, 3, 4)
SETS = ("Set5", "Set14")
# Input sizes (width x height) of the speed ladder at x4, and the sizes x2 and x3 run at.
LADDER = ((128, 96), (256, 192), (512, 384), (640, 480), (1020, 678), (2040, 1356))
OTHER_SCALES_AT = (640, 480)
STEADY_UP_TO = 640 * 480  # input pixels: larger photos are timed on their first call only
# LapSRN runs the whole image at once: 1.8 GB peak for 640x480 x4, so ~16 GB for 2040x1356.
OPENCV_MAX_PIXELS = {"lapsrn": 1020 * 678}
PROCESS_PHOTO = (640, 480)
PROCESS_ROUNDS = 3

OPENCV_SCRIPT = """import sys, cv2
name, scale, model, photo, out = sys.argv[1:]
sr = cv2.dnn_superres.DnnSuperResImpl_create()
sr.readModel(model)
sr.setModel(name, int(scale))
cv2.imwrite(out, sr.upsample(cv2.imread(photo)))
"""

# Runs one command and reports its wall time and peak RSS (this process has no other child).
WRAPPER = """import json, resource, subprocess, sys, time
t0 = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("RESULT " + json.dumps({"exit": code, "wall_s": wall, "peak_rss_mb": peak}))
"""


# ----------------------------------------------------------------------------------------------
# Methods: uint8 RGB in, uint8 RGB out


def peer_file(method: str, scale: int) -> Path:
    return PEERS / f"{OPENCV[method]}_x{scale}.pb"


def available(method: str, scale: int) -> bool:
    """Whether ``method`` has a model at ``scale`` (this project ships x2, x3, x4)."""
    return method in OURS or peer_file(method, scale).is_file()


def import_method(method: str) -> None:
    """Import what ``method`` needs (TensorFlow and sr_tf, or OpenCV)."""
    if method in OURS:
        import sr_tf.inference
        import sr_tf.pretrained  # noqa: F401
    else:
        import cv2  # noqa: F401


def load_method(method: str, scale: int):
    """(upscale function, info) for ``method`` at ``scale``; the model is loaded here."""
    if method in OURS:
        from sr_tf.inference import TiledUpscaler
        from sr_tf.pretrained import default_model, load_generator

        name = default_model(scale)
        model, _ = load_generator(name, scale, None)
        up = TiledUpscaler(model, scale, precision=OURS[method])
        return up.upscale_uint8, {"model": name, "precision": up.precision}
    import cv2

    sr = cv2.dnn_superres.DnnSuperResImpl_create()
    sr.readModel(str(peer_file(method, scale)))
    sr.setModel(method, scale)

    def upscale(rgb):
        return sr.upsample(rgb[:, :, ::-1].copy())[:, :, ::-1]

    return upscale, {"model": peer_file(method, scale).name, "opencv": cv2.__version__}


# ----------------------------------------------------------------------------------------------
# Children: one method each, printing one RESULT line of JSON


def child_quality(cfg: dict) -> dict:
    """PSNR/SSIM of one method on Set5 and Set14 at every scale it has."""
    import numpy as np

    from sr_tf.evaluation import bicubic_upscale, crop_to_scale, degrade
    from sr_tf.imageio import list_images, read_image
    from sr_tf.metrics import psnr_y, rgb_to_gray, ssim_y

    method, sets = cfg["method"], cfg["sets"]
    scores = {}
    for scale in cfg["scales"]:
        if method == "bicubic":
            upscale, info = (lambda lr, s=scale: bicubic_upscale(lr, s)), {}
        elif available(method, scale):
            upscale, info = load_method(method, scale)
        else:
            continue
        for name in sets:
            rows = []
            for path in list_images(DATA / name)[: cfg.get("images")]:
                hr = crop_to_scale(read_image(path)[:, :, :3], scale, path.name)
                lr = degrade(hr, scale)
                grey = lr.shape[2] == 1
                if method == "bicubic":
                    sr = upscale(lr)
                else:
                    sr = upscale(np.repeat(lr, 3, axis=2) if grey else lr)
                    sr = rgb_to_gray(sr) if grey else sr
                rows.append((psnr_y(sr, hr, shave=scale), ssim_y(sr, hr, shave=scale)))
            scores[f"{name} x{scale}"] = {
                "psnr": float(np.mean([r[0] for r in rows])),
                "ssim": float(np.mean([r[1] for r in rows])),
                "images": len(rows),
                **info,
            }
    return {"method": method, "scores": scores}


def child_speed(cfg: dict) -> dict:
    """One method on one photo in a fresh process: load, first call, second call."""
    import resource

    import numpy as np
    from PIL import Image

    t0 = time.perf_counter()
    import_method(cfg["method"])
    t1 = time.perf_counter()
    upscale, info = load_method(cfg["method"], cfg["scale"])
    import_s, load_s = t1 - t0, time.perf_counter() - t1
    rgb = np.asarray(Image.open(cfg["photo"]).convert("RGB"))
    load_average = os.getloadavg()[0]
    t0 = time.perf_counter()
    out = upscale(rgb)
    first = time.perf_counter() - t0
    second = None
    if cfg["steady"]:
        t0 = time.perf_counter()
        upscale(rgb)
        second = time.perf_counter() - t0
    mp = out.shape[0] * out.shape[1] / 1e6
    return {
        **info,
        "input": [rgb.shape[1], rgb.shape[0]],
        "output_mp": mp,
        "import_s": import_s,
        "load_s": load_s,
        "first_s": first,
        "second_s": second,
        "first_mp_s": mp / first,
        "steady_mp_s": None if second is None else mp / second,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average": [load_average, os.getloadavg()[0]],
    }


CHILDREN = {"quality": child_quality, "speed": child_speed}


def run_child(kind: str, cfg: dict) -> dict:
    """One child in a fresh Python process (this checkout on its path)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, __file__, "--child", json.dumps({"kind": kind, **cfg})]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    print(f"  {kind} {cfg}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    if proc.returncode != 0 or not lines:
        sys.exit(f"{kind} {cfg} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return {**cfg, **json.loads(lines[-1][len("RESULT ") :])}


# ----------------------------------------------------------------------------------------------
# The parts


def photo_ladder(work: Path, sizes) -> dict[tuple[int, int], Path]:
    """Top-left crops of the 2040x1356 mosaic of real photos (``serving_memory.make_photos``)."""
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from serving_memory import make_photos

    big, _ = make_photos(work)
    photos = {}
    for w, h in sizes:
        path = work / f"photo_{w}x{h}.png"
        if not path.exists():
            with Image.open(big) as img:
                img.crop((0, 0, w, h)).save(path)
        photos[(w, h)] = path
    return photos


def part_quality(quick: bool) -> list[dict]:
    cfg = {"sets": ["Set5"] if quick else list(SETS), "scales": [4] if quick else list(SCALES)}
    if quick:
        cfg["images"] = 2
    return [run_child("quality", {"method": m, **cfg}) for m in ("bicubic", *METHODS)]


def part_speed(quick: bool, work: Path) -> list[dict]:
    ladder = LADDER[:1] if quick else LADDER
    runs = [(size, 4) for size in ladder]
    if not quick:
        runs += [(OTHER_SCALES_AT, s) for s in SCALES if s != 4]
    photos = photo_ladder(work, {size for size, _ in runs})
    results = []
    for size, scale in runs:
        pixels = size[0] * size[1]
        for method in METHODS:  # interleaved per photo: the methods share the machine's load
            if not available(method, scale):
                continue
            cfg = {"method": method, "scale": scale, "photo": str(photos[size])}
            if pixels > OPENCV_MAX_PIXELS.get(method, pixels):
                results.append({**cfg, "input": list(size), "skipped": "memory"})
                continue
            results.append(run_child("speed", {**cfg, "steady": pixels <= STEADY_UP_TO}))
    return results


def process_commands(photo: Path, out: Path, scale: int = 4) -> dict[str, list[str]]:
    """The command lines a user would run for one photo, per method."""
    commands = {}
    for method, precision in OURS.items():
        commands[method] = [sys.executable, "resolve_image.py", str(photo), "--output", str(out)]
        commands[method] += ["--precision", precision]
    for method in OPENCV:
        if available(method, scale):
            model = str(peer_file(method, scale))
            commands[method] = [sys.executable, "-c", OPENCV_SCRIPT, method, str(scale), model]
            commands[method] += [str(photo), str(out)]
    return commands


def shown_command(method: str, cmd: list[str]) -> str:
    """The command as the docs show it: ``python``, the script or ``-c <OpenCV script>``."""
    if method in OURS:
        return "python resolve_image.py photo.png --output out.png " + " ".join(cmd[-2:])
    return f"python -c <OpenCV script> {method} 4 {Path(cmd[5]).name} photo.png out.png"


def part_process(quick: bool, work: Path) -> list[dict]:
    size = (128, 96) if quick else PROCESS_PHOTO
    photo = photo_ladder(work, [size])[size]
    commands = process_commands(photo, work / "process_out.png")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it
    runs: dict[str, list[dict]] = {m: [] for m in commands}
    for _ in range(1 if quick else PROCESS_ROUNDS):
        for method, cmd in commands.items():
            proc = subprocess.run(
                [sys.executable, "-c", WRAPPER, *cmd],
                capture_output=True,
                text=True,
                env=env,
                cwd=REPO,
            )
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
            result = json.loads(line[len("RESULT ") :])
            if result["exit"] != 0:
                sys.exit(f"{method} failed: {cmd}")
            result["load_average"] = os.getloadavg()[0]
            runs[method].append(result)
            print(f"  process {method}: {result['wall_s']:.1f} s", file=sys.stderr, flush=True)
    return [
        {
            "method": method,
            "input": list(size),
            "scale": 4,
            "command": shown_command(method, cmd),
            "wall_s": statistics.median(r["wall_s"] for r in runs[method]),
            "wall_s_rounds": [r["wall_s"] for r in runs[method]],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs[method]),
            "load_average": [r["load_average"] for r in runs[method]],
        }
        for method, cmd in commands.items()
    ]


# ----------------------------------------------------------------------------------------------
# The report


def _quality_table(rows: list[dict]) -> list[str]:
    lines = [
        "| method | scale | Set5 PSNR / SSIM | Set14 PSNR / SSIM |",
        "| --- | --- | --- | --- |",
    ]
    for scale in SCALES:
        for r in rows:
            cells = [r["scores"].get(f"{s} x{scale}") for s in SETS]
            if all(c is None for c in cells):
                continue
            text = [f"{c['psnr']:.2f} / {c['ssim']:.4f}" if c else "-" for c in cells]
            lines.append(f"| {r['method']} | x{scale} | {text[0]} | {text[1]} |")
    return lines


def _speed_table(rows: list[dict], scale: int) -> list[str]:
    methods = [m for m in METHODS if any(r["method"] == m and r["scale"] == scale for r in rows)]
    head = ["input (output MP)", *methods]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    sizes = sorted({tuple(r["input"]) for r in rows if r["scale"] == scale}, key=lambda s: s[0])
    for size in sizes:
        mp = next(r["output_mp"] for r in rows if tuple(r["input"]) == size and "output_mp" in r)
        cells = [f"{size[0]}x{size[1]} ({mp:.2f})"]
        for m in methods:
            r = next(
                (
                    r
                    for r in rows
                    if r["method"] == m and r["scale"] == scale and tuple(r["input"]) == size
                ),
                None,
            )
            if r is None or "skipped" in r:
                cells.append("not run" if r is None else "not run (memory)")
                continue
            text = f"{r['first_mp_s']:.3f}"
            if r["steady_mp_s"] is not None:
                text += f" ({r['steady_mp_s']:.3f})"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _goal_table(results: dict) -> list[str]:
    """x4: this project against LapSRN, speed ratio per photo (first call) and the PSNR gain."""
    quality = {r["method"]: r["scores"] for r in results.get("quality", [])}
    speed = [r for r in results.get("speed", []) if r["scale"] == 4 and "first_mp_s" in r]
    lapsrn = {tuple(r["input"]): r for r in speed if r["method"] == "lapsrn"}
    lines = [
        "| method | input | speed / LapSRN, first call (steady) | dB over LapSRN, Set5 / Set14 | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for method in OURS:
        gain = [
            quality[method][f"{s} x4"]["psnr"] - quality["lapsrn"][f"{s} x4"]["psnr"]
            for s in SETS
            if f"{s} x4" in quality.get(method, {}) and f"{s} x4" in quality.get("lapsrn", {})
        ]
        for r in (r for r in speed if r["method"] == method):
            peer = lapsrn.get(tuple(r["input"]))
            if peer is None:
                continue
            ratio = r["first_mp_s"] / peer["first_mp_s"]
            text = f"{ratio:.2f}x"
            if r["steady_mp_s"] and peer["steady_mp_s"]:
                text += f" ({r['steady_mp_s'] / peer['steady_mp_s']:.2f}x)"
            dbs = " / ".join(f"{g:+.2f}" for g in gain) if gain else "?"
            met = "yes" if ratio >= 2 and gain and min(gain) >= 1 else "no"
            size = f"{r['input'][0]}x{r['input'][1]}"
            lines.append(f"| {method} | {size} | {text} | {dbs} | {met} |")
    return lines


def _process_table(rows: list[dict]) -> list[str]:
    lines = [
        "| method | command | wall s (median of rounds) | peak RSS |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        rounds = ", ".join(f"{w:.1f}" for w in r["wall_s_rounds"])
        lines.append(
            f"| {r['method']} | `{r['command']}` | {r['wall_s']:.1f} ({rounds}) | "
            f"{r['peak_rss_mb'] / 1024:.2f} GB |"
        )
    return lines


def report(results: dict) -> str:
    lines = [f"Measured {results.get('measured_at', '?')}, {results.get('machine', '')}", ""]
    if results.get("quality"):
        lines += ["Quality (PSNR dB / SSIM, Y, scale border cut, MATLAB-bicubic LR):", ""]
        lines += _quality_table(results["quality"]) + [""]
    if results.get("speed"):
        for scale in SCALES:
            if any(r["scale"] == scale for r in results["speed"]):
                lines += [f"Output MP/s at x{scale}, first call in a fresh process (steady):", ""]
                lines += _speed_table(results["speed"], scale) + [""]
    if results.get("quality") and results.get("speed"):
        lines += ["Goal (x4): at least 2x LapSRN's speed at +1 dB or more:", ""]
        lines += _goal_table(results) + [""]
    if results.get("process"):
        lines += ["Whole process, one 640x480 photo x4 from the command line:", ""]
        lines += _process_table(results["process"]) + [""]
    return "\n".join(lines)


def _machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start"


def _commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return out.stdout.strip() or "?"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    p.add_argument("--update", action="store_true", help="keep the other parts' results")
    p.add_argument("--report", action="store_true", help="print the tables from the JSON")
    p.add_argument("--quick", action="store_true", help="tiny sizes; prints, writes no file")
    p.add_argument("--work", default="/tmp/sr_tf_peers", help="folder for photos and outputs")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        cfg = json.loads(args.child)
        print("RESULT " + json.dumps(CHILDREN[cfg.pop("kind")](cfg)))
        return 0
    if args.report:
        print(report(json.loads(RESULTS.read_text())))
        return 0
    only = [part.strip() for part in args.only.split(",")]
    if not set(only) <= set(PARTS):
        p.error(f"unknown part in --only {args.only}; choose from {', '.join(PARTS)}")
    try:
        import cv2  # noqa: F401
    except ImportError:
        p.error("OpenCV is not installed: pip install -r benchmarks/requirements.txt")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if args.update and RESULTS.exists() else {}
    results.update(machine=_machine(), commit=_commit())
    t0 = time.perf_counter()
    for part in only:
        if part == "quality":
            results["quality"] = part_quality(args.quick)
        elif part == "speed":
            results["speed"] = part_speed(args.quick, work)
        else:
            results["process"] = part_process(args.quick, work)
    results["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results["minutes"] = (time.perf_counter() - t0) / 60
    text = report(results)
    print(text)
    if not args.quick:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
