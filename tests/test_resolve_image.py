import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import smooth_image
from PIL import Image

from sr_tf.imageio import read_image, write_image
from sr_tf.models import build_model
from sr_tf.weights import save_weights_atomic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "resolve_image.py")
TINY = ["--model", "edsr-baseline", "--scale", "2", "--num-blocks", "1", "--num-features", "8"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    model = build_model("edsr-baseline", 2, num_blocks=1, num_features=8)
    return str(save_weights_atomic(model, tmp_path_factory.mktemp("w") / "tiny.weights.h5"))


def run(args, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, SCRIPT, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def cli(monkeypatch, capsys, weights):
    """Run resolve_image.main in this process through run_cli: (exit code, error lines)."""
    monkeypatch.syspath_prepend(REPO)
    import resolve_image
    from sr_tf.errors import run_cli

    def call(*args):
        with pytest.raises(SystemExit) as exit_info:
            run_cli(lambda: resolve_image.main([*args, *TINY, "--weights", weights]))
        return exit_info.value.code, error_lines(capsys.readouterr().err)

    return call


def test_files_and_a_folder_with_a_bad_file(tmp_path, weights, image_folder):
    (image_folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    write_image(tmp_path / "grey.png", smooth_image(20, 26)[:, :, :1])
    rgba = np.concatenate([smooth_image(18, 16), np.full((18, 16, 1), 200, np.uint8)], axis=2)
    write_image(tmp_path / "rgba.png", rgba)
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 degrees counter-clockwise on display
    Image.fromarray(smooth_image(16, 30)).save(tmp_path / "phone.jpg", exif=exif.tobytes())
    result = run(
        [
            "grey.png",
            "rgba.png",
            "phone.jpg",
            str(image_folder),
            *TINY,
            "--weights",
            weights,
            "--tile",
            "24",
            "--tile-overlap",
            "4",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "1 of 10 images failed" in result.stderr and "corrupt.png" in result.stderr
    assert "MP/s" in result.stderr
    out = tmp_path / "results"
    with Image.open(out / "grey_x2.png") as img:
        assert img.mode == "L" and img.size == (52, 40)
    with Image.open(out / "rgba_x2.png") as img:
        assert img.mode == "RGBA" and img.size == (32, 36)
    assert read_image(out / "phone_x2.png").shape == (60, 32, 3)
    assert read_image(out / "img0_x2.png").shape == (80, 96, 3)
    assert (out / "sub" / "deep_x2.png").exists()
    assert not (out / "corrupt_x2.png").exists()


def test_single_image_to_a_file_with_ensemble(tmp_path, cli):
    write_image(tmp_path / "in.png", smooth_image(30, 20))
    target = tmp_path / "up" / "big.png"
    code, lines = cli(
        str(tmp_path / "in.png"), "-o", str(target), "--ensemble", "--max-memory", "1GB"
    )
    assert code == 0 and not lines
    assert read_image(target).shape == (60, 40, 3)


def test_bfloat16_precision(tmp_path, cli):
    from sr_tf.precision import PRECISIONS
    from sr_tf.registry import INFERENCE_PRECISIONS

    assert INFERENCE_PRECISIONS == PRECISIONS  # the CLI's choices are the library's
    write_image(tmp_path / "in.png", smooth_image(30, 20))
    for precision in ("float32", "bfloat16"):
        target = tmp_path / f"{precision}.png"
        code, lines = cli(str(tmp_path / "in.png"), "-o", str(target), "--precision", precision)
        assert code == 0 and not lines
    f32 = read_image(tmp_path / "float32.png").astype(int)
    bf16 = read_image(tmp_path / "bfloat16.png").astype(int)
    assert f32.shape == bf16.shape == (60, 40, 3)
    assert np.abs(f32 - bf16).mean() < 0.5 and np.abs(f32 - bf16).max() <= 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tile", "16", "--tile-overlap", "8"], "larger than twice"),
        (["--tile", "0"], "must be positive"),
        (["--tile-overlap", "-2"], "0 or more"),
        (["--max-memory", "lots"], "memory size"),
        (["--max-memory", "1MB"], "too small"),
    ],
)
def test_bad_tile_parameters_are_one_line(tmp_path, cli, args, message):
    write_image(tmp_path / "a.png", smooth_image(8, 8))
    code, lines = cli(str(tmp_path / "a.png"), "--output", str(tmp_path / "out"), *args)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines


def test_list_models_and_missing_inputs(tmp_path):
    listed = run(["--list-models"], tmp_path)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert listed.stdout.splitlines()[0].split()[:2] == ["model", "scale"]
    assert any(line.split()[:2] == ["edsr-x4", "x4"] for line in listed.stdout.splitlines())
    missing = run([], tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "--list-models" in missing.stderr.splitlines()[-1]


def test_bad_tile_parameters_in_a_real_process(tmp_path, weights):
    write_image(tmp_path / "a.png", smooth_image(8, 8))
    result = run(
        ["a.png", *TINY, "--weights", weights, "--tile", "10", "--tile-overlap", "16"], tmp_path
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(error_lines(result.stderr)) == 1 and "--tile 10" in result.stderr
    assert not (tmp_path / "results").exists()


def test_single_bad_input_and_unwritable_output_are_one_line(tmp_path, cli):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should go")
    write_image(tmp_path / "ok.png", smooth_image(8, 8))
    (tmp_path / "empty").mkdir()
    out = ["--output", str(tmp_path / "out")]
    for args, message in [
        ([str(tmp_path / "bad.png"), *out], "cannot read image"),
        ([str(tmp_path / "nothing.png"), *out], "no such file"),
        ([str(tmp_path / "empty"), *out], "no images"),
        ([str(tmp_path / "ok.png"), "--output", str(blocker / "out")], "cannot write"),
    ]:
        code, lines = cli(*args)
        assert code == 2 and len(lines) == 1 and message in lines[0], lines


def test_the_default_model_follows_the_file(tmp_path, monkeypatch, capsys):
    """--model auto (the x4 default): a JPEG below quality 91 gets edsr-x4-real, a PNG edsr-x4;
    each output equals what that model gives when named."""
    monkeypatch.syspath_prepend(REPO)
    import resolve_image

    pixels = np.uint8(smooth_image(24, 32) * 255)
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", "JPEG", quality=75)
    Image.fromarray(pixels).save(tmp_path / "clean.png")
    inputs = [str(tmp_path / "photo.jpg"), str(tmp_path / "clean.png")]
    assert resolve_image.main([*inputs, "--output", str(tmp_path / "auto")]) == 0
    said = capsys.readouterr().out
    assert "edsr-x4-real: 1 image(s) (--model auto)" in said
    assert "edsr-x4: 1 image(s) (--model auto)" in said
    for name, source in (("edsr-x4-real", "photo.jpg"), ("edsr-x4", "clean.png")):
        out = tmp_path / name
        assert resolve_image.main([str(tmp_path / source), "--model", name, "-o", str(out)]) == 0
        stem = source.split(".")[0]
        np.testing.assert_array_equal(
            read_image(tmp_path / "auto" / f"{stem}_x4.png"), read_image(out / f"{stem}_x4.png")
        )


def test_auto_takes_no_weights(cli, weights, tmp_path):
    from sr_tf.errors import UserError

    sys.path.insert(0, REPO)
    import resolve_image

    write_image(tmp_path / "a.png", np.uint8(smooth_image(8, 8) * 255))
    with pytest.raises(UserError, match="auto chooses shipped models"):
        resolve_image.main([str(tmp_path / "a.png"), "--model", "auto", "--weights", weights])
