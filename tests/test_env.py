"""zoo._env: seconds read from environment variables."""

import pytest

from zoo.checks import env_seconds


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
