"""How clients name versions, read the same way by every transport.

0 (or nothing) means the model's default version, as OVMS and ovmsclient
use it; labels are not supported; anything else must be a positive integer.
"""

from __future__ import annotations

from .errors import NotFound

_MAX_DIGITS = 18  # keeps int() cheap and the number inside int64


def from_number(number: int) -> int | None:
    """A version number from a typed field: None for the default."""
    if number == 0:
        return None
    if number < 0:
        raise NotFound(f"version {number} not found: versions are positive integers")
    return number


def from_text(text: str | None) -> int | None:
    """A version from a URL segment: None for absent or 0."""
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_DIGITS:
        raise NotFound(f"version {text!r} not found: versions are positive integers")
    return from_number(int(text))


def label_not_supported(label: str) -> NotFound:
    return NotFound(f"version label {label!r} not found: version labels are not supported; address versions by number")
