"""One access line per request (logger ``ovserve.access``), at the level ``--access_log`` chooses; never a payload.

The line says what was asked and how it went: ``method`` and ``path`` (REST)
or ``rpc`` (gRPC), ``model`` and ``version`` when a model served it,
``status`` (the HTTP status, or the gRPC code's name), ``duration_ms``,
``bytes_in`` and ``bytes_out`` (body sizes), and, as every line written during
a request, its ``request_id``. The query string is left out: it can carry
values.

The default level is DEBUG: the lines appear with ``--log_level DEBUG``,
where someone is looking at single requests, and never at the default INFO,
where the tiny model's 5,000 requests a second would become 5,000 JSON lines
a second on stderr (CloudWatch bills by the byte). ``--access_log INFO``
makes them part of the normal log; ``off`` silences them even under DEBUG.
A request whose line is not written pays one ``isEnabledFor`` (a cached
dict lookup in ``logging``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .request_context import RequestInfo

log = logging.getLogger("ovserve.access")

LEVELS = {"OFF": None, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING}
DEFAULT = "DEBUG"

_level: int | None = LEVELS[DEFAULT]


def configure(level: str) -> None:
    """Write access lines at ``level`` (a key of ``LEVELS``; OFF writes none)."""
    global _level
    _level = LEVELS[level.upper()]


def enabled() -> bool:
    """Whether a request's line would be written now."""
    return _level is not None and log.isEnabledFor(_level)


def write(info: RequestInfo, status: int | str, seconds: float, bytes_in: int, bytes_out: int) -> None:
    """The access line of ``info``, while it is still the current request (so the formatter adds its id)."""
    fields: dict[str, object] = {"method": info.verb, "path": info.route} if info.verb else {"rpc": info.route}
    if info.model is not None:
        fields["model"] = info.model
        if info.version is not None:
            fields["version"] = info.version
    fields.update(status=status, duration_ms=round(seconds * 1000, 3), bytes_in=bytes_in, bytes_out=bytes_out)
    log.log(_level or logging.DEBUG, "request", extra=fields)
