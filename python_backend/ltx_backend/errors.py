"""InvalidRequest: the one error that is the caller's mistake (a request field, a flag, a served input), and the
value checks that raise it; LoadError: a file the user named cannot be used.

Raised before any model work, naming the field, the value and what is allowed. Transports turn exactly this
into the caller's error (exit code 2, HTTP 400 / gRPC INVALID_ARGUMENT); every other exception is the
server's own (INTERNAL, logged).
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

INVALID_PREFIX = "invalid "  # how every InvalidRequest message begins: "invalid <field>=<value>: <what is allowed>"
CANCELLED_MESSAGE = "request cancelled"  # a served request's error when its client cancelled it (or went away)
INTERNAL_PREFIX = "internal error: "  # how a served request's error begins when the fault is the server's (INTERNAL)


class InvalidRequest(ValueError):
    """A request field with a value that is not allowed. The message names field, value and what is allowed."""

    def __init__(self, field_name: str, value: Any, allowed: str):
        # a numpy scalar as the number it holds (numpy 2's repr says np.True_, np.int64(3))
        shown = repr(value.item() if isinstance(value, np.generic) else value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{INVALID_PREFIX}{field_name}={shown}: {allowed}")
        self.field = field_name
        self.value = value
        self.allowed = allowed


class LoadError(ValueError):
    """A model, checkpoint or LoRA the user named cannot be used (not found, not the expected format): the
    message says which file and why. Subclasses: ModelPathError, CheckpointError, LoraError."""


def utf8(name: str, text: str) -> bytes:
    """The text's UTF-8 bytes; InvalidRequest when it has lone surrogates (a command line or file name whose
    bytes were not UTF-8)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(name, text, "text in UTF-8 (this has bytes that are not)") from None


def finite_number(value: Any) -> bool:
    """A real number (not a bool) within float's range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float's range
        return False


def is_integer(value: Any) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: Any, lo: int, hi: int, allowed: str | None = None) -> None:
    """`allowed`: the message's "what is allowed", where more than the range is (default: the range)."""
    if not is_integer(value) or not lo <= value <= hi:
        raise InvalidRequest(name, value, allowed or f"an integer between {lo} and {hi}")


def check_bool(name: str, value: Any) -> bool:
    """A true/false field (a Python or numpy bool; not 0/1 or text) as a Python bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidRequest(name, value, "true or false")
    return bool(value)


def check_float(name: str, value: Any, lo: float, hi: float) -> None:
    if not finite_number(value) or not lo <= value <= hi:
        raise InvalidRequest(name, value, f"a number between {lo:g} and {hi:g}")
