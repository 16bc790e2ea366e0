"""Export for serving: the TF Serving SavedModel contract, checkpoints, TFLite and export.py.

TF Serving's own server binary cannot be installed here, so these tests check what it relies
on: the SavedModel layout, the signatures as TensorFlow's ``saved_model_cli`` reports and runs
them, loading in a process that has only TensorFlow, and the REST body shown in the docs.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import smooth_image
from PIL import Image

from sr_tf.errors import UserError, run_cli
from sr_tf.export import (
    BYTES_OUTPUT_KEY,
    DEFAULT_MAX_MEMORY,
    DEFAULT_MIN_TILE,
    INPUT_KEY,
    PIXEL_CAP,
    TENSOR_OUTPUT_KEY,
    export_savedmodel,
    export_tflite,
    next_version,
    parse_size,
    plan_serving,
    request_bytes,
    run_tflite,
    tflite_max_difference,
)
from sr_tf.imageio import read_image, to_float, to_uint8
from sr_tf.inference import TiledUpscaler
from sr_tf.models import build_model
from sr_tf.precision import resolve_precision
from sr_tf.pretrained import load_generator, manifest
from sr_tf.weights import save_weights_atomic

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TINY = {"num_blocks": 1, "num_features": 8}
SCALE = 2
MAX_PIXELS = 48 * 48  # the shared export's limit: a 64x64 input must be refused
TILE, OVERLAP = 16, 4  # small tiles, so that the test images run in several tiles


def _env() -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd or REPO, env=_env(), capture_output=True, text=True, timeout=600
    )


def _saved_model_cli() -> str:
    """TensorFlow's ``saved_model_cli`` for the Python running the tests, or skip.

    The one next to ``sys.executable`` first (a virtualenv's, also when it is not activated),
    then whatever is on PATH.
    """
    name = "saved_model_cli.exe" if os.name == "nt" else "saved_model_cli"
    sibling = Path(sys.executable).parent / name
    if sibling.is_file():
        return str(sibling)
    found = shutil.which("saved_model_cli")
    if found is None:
        pytest.skip(f"TensorFlow's saved_model_cli is neither in {sibling.parent} nor on PATH")
    return found


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _encode(array: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(
        buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {})
    )
    return buffer.getvalue()


def _decode(data: bytes) -> np.ndarray:
    array = np.asarray(Image.open(io.BytesIO(data)))
    return array[:, :, None] if array.ndim == 2 else array


def _tiny(name: str, scale: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_model(name, scale, **TINY)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> tuple[keras.Model, Path]:
    """A 1-block, 8-feature EDSR x2 with random weights, and its weights file."""
    model = _tiny("edsr-baseline", SCALE, seed=3)
    weights = save_weights_atomic(model, tmp_path_factory.mktemp("weights") / "tiny.weights.h5")
    return model, weights


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory) -> Path:
    """The tiny model exported once by export.py (a subprocess); the version folder."""
    base = tmp_path_factory.mktemp("exported") / "edsr_x2"
    result = _run(
        [
            sys.executable,
            "export.py",
            "--model",
            "edsr-baseline",
            "--scale",
            str(SCALE),
            "--weights",
            str(tiny_model[1]),
            "--num-blocks",
            "1",
            "--num-features",
            "8",
            "--max-pixels",
            str(MAX_PIXELS),
            "--tile",
            str(TILE),
            "--tile-overlap",
            str(OVERLAP),
            "--precision",
            "float32",
            "--output",
            str(base),
        ]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"--model_base_path={base.resolve()}" in result.stdout
    assert f"up to {MAX_PIXELS} input pixels, tiles of at most {TILE}" in result.stdout
    return base / "1"


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported))


def test_export_writes_tf_serving_layout(exported):
    assert exported.name == "1"
    assert (exported / "saved_model.pb").is_file()
    assert (exported / "variables" / "variables.index").is_file()
    # Written under a hidden temporary name and renamed: nothing else is left in the base.
    assert [p.name for p in exported.parent.iterdir()] == ["1"]
    assert next_version(exported.parent) == 2
    # Not owner-only like the temporary folder it was written to: servers often run as another user.
    assert exported.stat().st_mode & 0o777 == 0o777 & ~_umask()


def test_saved_model_cli_shows_signatures(exported):
    result = _run([_saved_model_cli(), "show", "--dir", str(exported), "--all"])
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout

    def signature(name: str) -> str:
        match = re.search(rf"signature_def\['{name}'\]:(.*?)Method name is: (\S+)", text, re.S)
        assert match, f"no signature {name} in saved_model_cli output"
        assert match.group(2) == "tensorflow/serving/predict"
        return match.group(1)

    def tensor(block: str, kind: str, key: str) -> tuple[str, str]:
        match = re.search(rf"{kind}\['{key}'\] tensor_info:\s*dtype: (\S+)\s*shape: (.+)", block)
        assert match, f"no {kind} {key} in {block}"
        return match.group(1), match.group(2).strip()

    serving = signature("serving_default")
    assert tensor(serving, "inputs", INPUT_KEY) == ("DT_STRING", "(-1)")
    assert tensor(serving, "outputs", BYTES_OUTPUT_KEY) == ("DT_STRING", "(-1)")
    assert BYTES_OUTPUT_KEY.endswith("_bytes")  # TF Serving's REST API base64-encodes these
    tensors = signature("predict_tensor")
    assert tensor(tensors, "inputs", INPUT_KEY) == ("DT_UINT8", "(-1, -1, -1, 3)")
    assert tensor(tensors, "outputs", TENSOR_OUTPUT_KEY) == ("DT_UINT8", "(-1, -1, -1, 3)")
    metadata = signature("metadata")
    assert tensor(metadata, "inputs", "unused") == ("DT_INT64", "()")
    assert tensor(metadata, "outputs", "max_pixels") == ("DT_INT64", "()")
    assert tensor(metadata, "outputs", "scale") == ("DT_INT32", "()")


def test_saved_model_cli_run_returns_png_of_right_size(exported, tmp_path):
    png = _encode(smooth_image(20, 28, seed=1))
    # saved_model_cli feeds .npy files; a string tensor is an object array of bytes.
    np.save(tmp_path / "images.npy", np.array([png], dtype=object), allow_pickle=True)
    result = _run(
        [
            _saved_model_cli(),
            "run",
            "--dir",
            str(exported),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--inputs",
            f"images={tmp_path / 'images.npy'}",
            "--outdir",
            str(tmp_path / "out"),
        ]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outputs = np.load(tmp_path / "out" / f"{BYTES_OUTPUT_KEY}.npy", allow_pickle=True)
    assert outputs.shape == (1,)
    assert _decode(outputs[0]).shape == (20 * SCALE, 28 * SCALE, 3)


FRESH_PROCESS = r"""
import json, sys
import tensorflow as tf

model = tf.saved_model.load(sys.argv[1])
serve, tensors = model.signatures["serving_default"], model.signatures["predict_tensor"]
request = json.load(open(sys.argv[2]))
report = {"errors": {}}

def images(paths):
    return tf.constant([open(p, "rb").read() for p in paths])

# All good images in one request (different sizes and modes).
for path, png in zip(request["good"], serve(images=images(request["good"]))["output_bytes"].numpy()):
    open(path + ".out.png", "wb").write(png)
# Each bad input fails on its own with InvalidArgumentError, even beside a good image.
for name, path in request["bad"].items():
    try:
        serve(images=images([request["good"][0], path]))
        report["errors"][name] = None
    except tf.errors.InvalidArgumentError as err:
        report["errors"][name] = err.message
for name, shape in [("tensor_too_big", [1, 64, 64, 3]), ("tensor_zero_size", [1, 0, 8, 3])]:
    try:
        tensors(images=tf.zeros(shape, tf.uint8))
        report["errors"][name] = None
    except tf.errors.InvalidArgumentError as err:
        report["errors"][name] = err.message
# The process is still fine: the same model serves the next request.
again = serve(images=images(request["good"][:1]))["output_bytes"].numpy()[0]
open(request["good"][0] + ".again.png", "wb").write(again)
report["sr_tf_imported"] = any(m == "sr_tf" or m.startswith("sr_tf.") for m in sys.modules)
print(json.dumps(report))
"""


def test_fresh_tensorflow_process_matches_resolve_image_and_survives_bad_input(
    exported, tiny_model, tmp_path
):
    model, _ = tiny_model
    base = smooth_image(22, 30, seed=2)
    y, x = np.mgrid[0:22, 0:30]
    alpha = ((x * 9 + y * 3) % 256).astype(np.uint8)
    files = {
        "rgb.png": _encode(base),
        "grey.png": _encode(base[:, :, 1], mode="L"),
        "rgba.png": _encode(np.dstack([base, alpha]), mode="RGBA"),
        "grey_alpha.png": _encode(np.dstack([base[:, :, 0], alpha]), mode="LA"),
        "photo.jpg": _encode(smooth_image(17, 25, seed=4), "JPEG"),
        "small.bmp": _encode(smooth_image(9, 13, seed=5), "BMP"),
    }
    set5 = SHARED_DATA / "Set5" / "butterfly.png"
    if set5.exists():  # a real photograph too, where the shared data is present
        files["butterfly_crop.png"] = _encode(read_image(set5)[100:140, 80:128])
    too_big = _encode(smooth_image(64, 64, seed=6))
    bad = {
        "not_an_image": b"this is not an image",
        "truncated_png": files["rgb.png"][: len(files["rgb.png"]) // 2],
        "truncated_jpeg": files["photo.jpg"][: len(files["photo.jpg"]) // 2],
        "empty": b"",
        "over_max_pixels": too_big,
        "huge_header": _encode(np.zeros((3000, 3000), np.uint8), mode="L"),  # 9 MP, a few kB
    }
    for name, data in {**files, **bad}.items():
        (tmp_path / name).write_bytes(data)
    request = {
        "good": [str(tmp_path / n) for n in files],
        "bad": {n: str(tmp_path / n) for n in bad},
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    script = tmp_path / "fresh.py"
    script.write_text(FRESH_PROCESS)

    result = _run(
        [sys.executable, str(script), str(exported), str(tmp_path / "request.json")], cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["sr_tf_imported"] is False

    # resolve_image.py's path with the same tiles: read_image + TiledUpscaler.upscale_uint8.
    # The tile plan, blend weights and order of sums are the same; TiledUpscaler runs several
    # tiles per model call and makes alpha from whole rows, which may round a pixel differently.
    upscaler = TiledUpscaler(model, SCALE, tile=TILE, overlap=OVERLAP)
    for name in files:
        served = _decode((tmp_path / f"{name}.out.png").read_bytes())
        expected = upscaler.upscale_uint8(read_image(tmp_path / name))
        assert served.shape == expected.shape, name
        diff = np.abs(served.astype(int) - expected)
        assert diff.max() <= 1 and np.mean(diff > 0) < 0.01, (name, diff.max(), np.mean(diff))
    assert (tmp_path / "rgb.png.again.png").read_bytes() == (
        tmp_path / "rgb.png.out.png"
    ).read_bytes()

    errors = report["errors"]
    assert all(errors.values()), {k: v for k, v in errors.items() if not v}
    assert "Unknown image file format" in errors["not_an_image"]
    assert "PNG" in errors["truncated_png"]
    assert "JPEG" in errors["truncated_jpeg"]
    assert "empty input" in errors["empty"]
    for name in ("over_max_pixels", "huge_header", "tensor_too_big"):
        assert f"max_pixels={MAX_PIXELS}" in errors[name], errors[name]
    assert "zero size" in errors["tensor_zero_size"]


def test_tensor_and_metadata_signatures(loaded, tiny_model):
    model, _ = tiny_model
    batch = np.stack([smooth_image(12, 16, seed=s) for s in (7, 8)])
    out = loaded.signatures["predict_tensor"](images=tf.constant(batch))[TENSOR_OUTPUT_KEY].numpy()
    assert out.dtype == np.uint8 and out.shape == (2, 24, 32, 3)
    upscaler = TiledUpscaler(model, SCALE, tile=TILE, overlap=OVERLAP)
    for served, image in zip(out, batch, strict=True):
        assert np.abs(served.astype(int) - upscaler.upscale_uint8(image)).max() <= 1
    meta = {
        k: v.numpy()
        for k, v in loaded.signatures["metadata"](unused=tf.constant(0, tf.int64)).items()
    }
    assert meta["scale"] == SCALE and meta["max_pixels"] == MAX_PIXELS
    assert (meta["tile"], meta["tile_overlap"]) == (TILE, OVERLAP)
    assert meta["max_memory"] == DEFAULT_MAX_MEMORY
    assert meta["model"] == b"edsr-baseline_x2" and meta["precision"] == b"float32"
    assert f"at most {MAX_PIXELS} pixels".encode() in meta["description"]
    assert f"tiles of at most {TILE}x{TILE}".encode() in meta["description"]


def test_bfloat16_export_computes_in_bfloat16(tiny_model, tmp_path):
    model, _ = tiny_model
    upscaler = TiledUpscaler(model, SCALE, tile=TILE, overlap=OVERLAP, precision="bfloat16")
    plan = plan_serving(upscaler, max_pixels=MAX_PIXELS, tile=TILE)
    assert plan.precision == "bfloat16"
    served = tf.saved_model.load(str(export_savedmodel(model, SCALE, tmp_path, plan=plan)))
    meta = served.signatures["metadata"](unused=tf.constant(0, tf.int64))
    assert meta["precision"].numpy() == b"bfloat16"
    assert b"computes in bfloat16" in meta["description"].numpy()
    image = smooth_image(20, 26, seed=12)
    out = served.signatures["predict_tensor"](images=tf.constant(image[None]))
    out = out[TENSOR_OUTPUT_KEY].numpy()[0].astype(int)
    assert np.abs(out - upscaler.upscale_uint8(image)).max() <= 1
    # bfloat16 inside really changes the arithmetic: not bit-identical to float32.
    float32 = TiledUpscaler(model, SCALE, tile=TILE, overlap=OVERLAP).upscale_uint8(image)
    assert not np.array_equal(out, float32)
    # auto is what resolve_image.py --precision auto picks on this machine.
    auto = plan_serving(TiledUpscaler(model, SCALE, precision="auto"), max_pixels=MAX_PIXELS)
    assert auto.precision == resolve_precision("auto")


def _client(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _doc_requests() -> dict[str, dict]:
    """The JSON request bodies in docs/serving.md, each after a ``<!-- request: NAME -->`` line."""
    text = (REPO / "docs" / "serving.md").read_text()
    found = re.findall(r"<!-- request: (\S+) -->\s*```json\n(.*?)```", text, re.S)
    return {name: json.loads(body) for name, body in found}


def _as_tf_serving_would(body: dict) -> tuple[tf.Tensor, str]:
    """The ``images`` tensor TF Serving builds from a REST body, by its documented JSON rules."""
    values = body["inputs"][INPUT_KEY] if "inputs" in body else body["instances"]
    values = [v[INPUT_KEY] if INPUT_KEY in v else v for v in values]  # row form may name the input
    return tf.constant([base64.b64decode(v["b64"]) for v in values]), body.get(
        "signature_name", "serving_default"
    )


def test_rest_bodies_in_docs_are_valid_requests(loaded, tmp_path):
    rest = _client("serving_client_rest")
    requests = _doc_requests()
    assert {"columnar", "row", "metadata"} <= set(requests), (
        f"docs/serving.md lost its request examples: {list(requests)}"
    )
    metadata = requests.pop("metadata")
    unused = tf.constant(metadata["inputs"]["unused"], tf.int64)
    assert loaded.signatures[metadata["signature_name"]](unused=unused)["scale"].numpy() == SCALE
    for name, body in requests.items():
        images, signature = _as_tf_serving_would(body)
        assert signature == "serving_default", name
        outputs = loaded.signatures[signature](images=images)[BYTES_OUTPUT_KEY].numpy()
        for data, png in zip(images.numpy(), outputs, strict=True):
            h, w = _decode(data).shape[:2]
            assert _decode(png).shape[:2] == (h * SCALE, w * SCALE)
        # The response as TF Serving encodes a *_bytes output, parsed by the example client.
        encoded = [{"b64": base64.b64encode(png).decode()} for png in outputs]
        response = {"outputs": encoded} if "inputs" in body else {"predictions": encoded}
        assert rest.parse_response(json.loads(json.dumps(response))) == list(outputs)
    # The example client builds the documented columnar body.
    built = rest.build_request(
        [base64.b64decode(v["b64"]) for v in requests["columnar"]["inputs"][INPUT_KEY]]
    )
    assert built == requests["columnar"]
    with pytest.raises(RuntimeError, match="max_pixels"):
        rest.parse_response(
            {"error": "assertion failed: [input image has more pixels ... max_pixels=2304"}
        )


def test_grpc_client_tensor_proto_feeds_the_signature(loaded):
    grpc_client = _client("serving_client_grpc")
    pngs = [_encode(smooth_image(10, 14, seed=9)), _encode(smooth_image(6, 6, seed=10))]
    proto = grpc_client.images_proto(pngs)
    outputs = loaded.signatures["serving_default"](images=tf.constant(tf.make_ndarray(proto)))
    result = grpc_client.output_images(tf.make_tensor_proto(outputs[BYTES_OUTPUT_KEY]))
    assert [_decode(png).shape for png in result] == [(20, 28, 3), (12, 12, 3)]


def test_training_checkpoints_export_for_every_generator(tmp_path):
    # Stage-1 runs (train.py) store the generator under "model", SRGAN runs under "generator".
    cases = [("edsr-baseline", "model", 4), ("srresnet", "generator", 2)]
    base = tmp_path / "exported"
    for name in ("1", "7", "notes"):
        (base / name).mkdir(parents=True)
    for i, (name, key, scale) in enumerate(cases):
        model = _tiny(name, scale, seed=20 + i)
        run = tmp_path / f"run_{name}"
        optimizer = keras.optimizers.Adam()  # saved beside the generator, as training does
        optimizer.build(model.trainable_variables)
        checkpoint = tf.train.Checkpoint(**{key: model, "optimizer": optimizer})
        manager = tf.train.CheckpointManager(checkpoint, str(run / "checkpoints"), 2)
        manager.save(checkpoint_number=2)
        restored, got_scale = load_generator(name, scale, run, **TINY)
        target = export_savedmodel(restored, got_scale, base, model_name=f"{name}_x{scale}")
        assert target == base / str(8 + i)  # after the highest numeric version, not in a gap
        served = tf.saved_model.load(str(target)).signatures["predict_tensor"]
        lr = smooth_image(10, 12, seed=i)[None]
        np.testing.assert_array_equal(
            served(images=tf.constant(lr))[TENSOR_OUTPUT_KEY].numpy(),
            to_uint8(model(to_float(lr), training=False)),
        )


def test_savedmodel_export_refuses_bad_targets(tiny_model, tmp_path):
    model, _ = tiny_model
    (tmp_path / "base" / "3").mkdir(parents=True)
    with pytest.raises(UserError, match="exists"):
        export_savedmodel(model, SCALE, tmp_path / "base", version=3)
    with pytest.raises(UserError, match="positive"):
        export_savedmodel(model, SCALE, tmp_path / "base", version=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        export_savedmodel(model, SCALE, tmp_path / "file")
    upscaler = TiledUpscaler(model, SCALE)
    with pytest.raises(UserError, match="max-pixels"):
        plan_serving(upscaler, max_pixels=0)
    with pytest.raises(UserError, match="too small"):
        plan_serving(upscaler, "100MB")
    with pytest.raises(UserError, match="more than --max-memory"):
        plan_serving(upscaler, "200MB", max_pixels=PIXEL_CAP, tile=1024)
    assert sorted(p.name for p in (tmp_path / "base").iterdir()) == ["3"]


def test_plan_fits_the_budget_and_grows_with_it():
    keras.utils.set_random_seed(1)
    model = build_model("edsr-baseline", 4)  # paper size: the plan depends on the real cost
    upscaler = TiledUpscaler(model, 4)
    small, large = plan_serving(upscaler, "1GB"), plan_serving(upscaler, "2GB")
    for plan, budget in ((small, 1 << 30), (large, 2 << 30)):
        assert plan.max_memory == budget and plan.estimated_bytes <= budget
        assert plan.estimated_bytes == int(request_bytes(upscaler, plan.tile, plan.max_pixels))
        assert plan.tile >= DEFAULT_MIN_TILE and plan.strip_rows > 0
        # The limit is the largest image that leaves room for such tiles.
        assert request_bytes(upscaler, DEFAULT_MIN_TILE, plan.max_pixels + 4096) > budget
    assert 2040 * 1356 <= small.max_pixels < large.max_pixels <= PIXEL_CAP
    # A smaller limit buys larger tiles within the same budget.
    assert plan_serving(upscaler, "1GB", max_pixels=1020 * 678).tile > small.tile


def test_tflite_matches_keras_within_one_grey_level(tiny_model, tmp_path):
    model, _ = tiny_model
    image = smooth_image(24, 32, seed=11)
    plain = export_tflite(model, tmp_path / "tiny", (24, 32))
    half = export_tflite(model, tmp_path / "tiny16.tflite", (24, 32), float16=True)
    assert plain.name == "tiny.tflite" and half.name == "tiny16.tflite"
    assert plain.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert run_tflite(plain, image).shape == (48, 64, 3)
    assert tflite_max_difference(plain, model, image) <= 1
    assert tflite_max_difference(half, model, image) <= 1
    assert half.stat().st_size < plain.stat().st_size
    with pytest.raises(UserError, match="24x32"):
        run_tflite(plain, smooth_image(16, 16, seed=0))


def test_parse_size():
    assert parse_size("128x96") == (128, 96)
    assert parse_size(" 64 X 64 ") == (64, 64)
    for bad in ("128", "0x64", "axb", "-4x4"):
        with pytest.raises(UserError):
            parse_size(bad)


def _export_cli():
    spec = importlib.util.spec_from_file_location("export_cli", REPO / "export.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def test_cli_scale_picks_the_shipped_model(tmp_path, capsys):
    if "edsr-x2" not in manifest():
        pytest.skip("no shipped x2 model")
    out = tmp_path / "x2.tflite"
    args = f"--scale 2 --format tflite --tflite-size 8x8 --output {out}"
    assert _export_cli().main(args.split()) == 0
    assert "input 8x8, x2)" in capsys.readouterr().out
    assert run_tflite(out, smooth_image(8, 8, seed=1)).shape == (16, 16, 3)


@pytest.mark.parametrize(
    "args, message",
    [
        ("--model edsr-baseline --weights missing.weights.h5 --output x", "no such weights file"),
        ("--model no-such-model --output x", "unknown model 'no-such-model'"),
        ("--scale 8 --output x", "no shipped x8 model"),
        ("--model edsr-baseline --output x --float16", "--float16 applies to --format tflite"),
        ("--model edsr-baseline --output x --format tflite --version 2", "apply to SavedModels"),
        ("--model edsr-baseline --output x --format tflite --tile 64", "apply to SavedModels"),
        ("--model edsr-baseline --output x --max-memory lots", "cannot read memory size"),
        ("--model edsr-baseline --output x --tile 20", "larger than twice --tile-overlap"),
        ("--model edsr-baseline --output x --max-memory 200MB", "is too small"),
        ("--model edsr-baseline --output x --format tflite --precision float32", "apply to"),
        ("--model edsr-baseline --output x --format tflite --tflite-size big", "is not HxW"),
    ],
)
def test_cli_user_errors(args, message, tmp_path, monkeypatch, capsys):
    cli = _export_cli()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: cli.main(args.split()))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
    assert list(tmp_path.iterdir()) == []
