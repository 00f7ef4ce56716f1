"""zoo.checks: the argument checks in Keras's wording, and seconds read from the environment."""

import numpy as np
import pytest

from zoo import checks
from zoo.checks import env_seconds


@pytest.mark.parametrize("check, args, value, what", [
    (checks.positive_int, (), 0, "a positive integer"),
    (checks.positive_int, (), 2.0, "a positive integer"),
    (checks.positive_int, (), True, "a positive integer"),
    (checks.non_negative_int, (), -1, "an integer >= 0"),
    (checks.int_at_least, (3,), 2, "an integer >= 3"),
    (checks.positive_number, (), float("inf"), "a finite number > 0"),
    (checks.positive_number, (), 0, "a finite number > 0"),
    (checks.non_negative_number, (), -0.5, "a finite number >= 0"),
    (checks.rate, (), 1.5, "a float in [0, 1]"),
    (checks.rate, (), "x", "a float in [0, 1]"),
    (checks.one_of, (("a", "b"),), "c", "one of ('a', 'b')"),
])
def test_a_bad_value_is_one_keras_worded_line(check, args, value, what):
    with pytest.raises(ValueError) as e:
        check("size", value, *args)
    assert str(e.value) == f"Argument `size` must be {what}. Received: size={value!r}"


def test_good_values_come_back_as_python_numbers():
    n = checks.positive_int("n", np.int64(8))
    assert n == 8 and type(n) is int
    assert type(checks.positive_number("x", np.float32(0.5))) is float
    assert checks.rate("r", 1) == 1.0 and checks.non_negative_int("n", 0) == 0
    assert checks.one_of("c", "b", ("a", "b")) == "b"
    with pytest.raises(ValueError, match=r"a float in \[0, 1\)"):
        checks.rate("r", 1.0, allow_one=False)


def test_unset_or_empty_gives_the_default(monkeypatch):
    monkeypatch.delenv("ZOO_TEST_SECONDS", raising=False)
    assert env_seconds("ZOO_TEST_SECONDS", 60) == 60.0
    monkeypatch.setenv("ZOO_TEST_SECONDS", "")
    assert env_seconds("ZOO_TEST_SECONDS", 7) == 7.0


def test_a_number_is_read(monkeypatch):
    monkeypatch.setenv("ZOO_TEST_SECONDS", "2.5")
    assert env_seconds("ZOO_TEST_SECONDS", 60) == 2.5


@pytest.mark.parametrize("text", ["0", "-1", "inf", "nan", "soon"])
def test_anything_else_names_the_variable(monkeypatch, text):
    monkeypatch.setenv("ZOO_TEST_SECONDS", text)
    with pytest.raises(ValueError, match=(
            r"Environment variable `ZOO_TEST_SECONDS` must be a number of seconds > 0\. "
            rf"Received: ZOO_TEST_SECONDS='{text}'")):
        env_seconds("ZOO_TEST_SECONDS", 60)


def test_weight_dropout_for_refuses_a_rate_keras_lstm_cannot_apply():
    assert checks.weight_dropout_for("fused", 0.5) == 0.5
    assert checks.weight_dropout_for("keras", 0) == 0.0
    with pytest.raises(ValueError) as info:
        checks.weight_dropout_for("keras", 0.25)
    assert str(info.value) == ("Argument `weight_dropout` must be 0 with cell='keras' "
                               "(keras.layers.LSTM has no weight drop; use cell='fused' or "
                               "'gate'). Received: weight_dropout=0.25")
    with pytest.raises(ValueError, match=r"must be a float in \[0, 1\)\. Received: "
                                         r"weight_dropout=1\.0"):
        checks.weight_dropout_for("gate", 1.0)


def test_invalid_is_the_public_raiser_of_the_keras_wording():
    with pytest.raises(ValueError) as info:
        checks.invalid("window", "a positive integer", 0)
    assert str(info.value) == "Argument `window` must be a positive integer. Received: window=0"
    with pytest.raises(ValueError) as info:
        checks.invalid("ids", "1-D", [[1]], shown="array of shape (1, 1)")
    assert str(info.value) == "Argument `ids` must be 1-D. Received: ids=array of shape (1, 1)"


def test_instance_names_the_type_received_and_returns_the_value():
    assert checks.instance("text", "ab", str, "a str") == "ab"
    with pytest.raises(ValueError) as info:
        checks.instance("text", 5, str, "a str")
    assert str(info.value) == "Argument `text` must be a str. Received: text of type int"
    with pytest.raises(TypeError) as info:
        checks.instance("config", {}, (int, float), "a number", error=TypeError)
    assert str(info.value) == "Argument `config` must be a number. Received: config of type dict"
