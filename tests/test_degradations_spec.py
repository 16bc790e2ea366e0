import pytest

from sr_tf.degradations.spec import (
    check_keys,
    format_range,
    parse_number,
    parse_range,
    split_part,
)
from sr_tf.errors import UserError


def test_parts_split_into_name_and_values():
    assert split_part(" Realistic: JPEG = 30-95 , noise=1-30 ") == (
        "realistic",
        {"jpeg": "30-95", "noise": "1-30"},
    )
    assert split_part("bicubic") == ("bicubic", {})
    with pytest.raises(UserError, match="not key=value"):
        split_part("jpeg:75")
    with pytest.raises(UserError, match="given twice"):
        split_part("jpeg:q=75,q=80")


def test_ranges_and_numbers():
    assert parse_range("x", "jpeg", "30-95", 10, 100) == (30.0, 95.0)
    assert parse_range("x", "jpeg", " 50 ", 10, 100) == (50.0, 50.0)
    assert parse_range("x", "sigma", ".2-1.5", 0, 10) == (0.2, 1.5)
    assert format_range((0.2, 3.0)) == "0.2-3" and format_range((30, 95)) == "30-95"
    assert parse_number("x", "p", "0.25", 0, 1) == 0.25
    for text, message in (("95-30", "low <= high"), ("1-200", r"\[10, 100\]"), ("a-b", "range")):
        with pytest.raises(UserError, match=message):
            parse_range("x", "jpeg", text, 10, 100)
    for text, message in (("inf", "outside"), ("nan", "outside"), ("two", "a number")):
        with pytest.raises(UserError, match=message):
            parse_number("x", "p", text, 0, 1)
    with pytest.raises(UserError, match="unknown parameter 'z'; it takes q=..."):
        check_keys("jpeg:z=1", {"z": "1"}, ("q",))
