import pytest

from sr_tf.errors import UserError, run_cli
from sr_tf.fileio import write_text_atomic


def _exit(main, capsys) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main)
    return exit_info.value.code, capsys.readouterr().err.splitlines()


def test_user_error_is_one_line_and_exit_2(capsys):
    def main():
        raise UserError("no such folder: x/")

    assert _exit(main, capsys) == (2, ["error: no such folder: x/"])


def test_os_error_from_a_real_write_is_one_line(tmp_path, capsys):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    code, lines = _exit(lambda: write_text_atomic(tmp_path / "blocker" / "out.json", "{}"), capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: ") and "blocker" in lines[0]


def test_exit_codes_pass_through_and_ctrl_c_is_130(capsys):
    assert _exit(lambda: 1, capsys) == (1, [])
    assert _exit(lambda: None, capsys) == (0, [])

    def interrupted():
        raise KeyboardInterrupt

    assert _exit(interrupted, capsys) == (130, ["interrupted"])


def test_programming_errors_still_raise():
    with pytest.raises(ZeroDivisionError):
        run_cli(lambda: 1 / 0)
