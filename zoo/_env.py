"""Settings read from environment variables, checked in one place."""

import os


def env_seconds(name, default):
    """Seconds from the environment variable `name`, or `default` where it is unset or empty.

    Raises:
        ValueError: if the variable is not a finite number of seconds > 0.
    """
    text = os.environ.get(name)
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ValueError(f"Environment variable `{name}` must be a number of seconds > 0. "
                         f"Received: {name}={text!r}")
    return value
