"""What ``output_handler(response, context)`` receives: the prediction's answer, read like a ``requests.Response``.

AWS's container POSTs ``input_handler``'s body to TF Serving with ``requests``
and hands the ``requests.Response`` on. Here the prediction runs in process
(no socket, no second parse of the URL), and this object carries what scripts
read from a response: ``status_code``, ``ok``, ``reason``, ``content``,
``text``, ``json()``, ``headers``, ``url``, ``encoding`` and
``raise_for_status()``, which raises ``requests.HTTPError`` (when requests is
installed) so ``except requests.HTTPError`` in a script still catches it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

import orjson


class Headers(Mapping[str, str]):
    """Response headers, looked up without regard to case, as ``requests`` does."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = {name.lower(): (name, value) for name, value in headers.items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class HTTPError(Exception):
    """``raise_for_status``'s error where ``requests`` is not installed; ``response`` is the failed answer."""

    def __init__(self, message: str, response: ScriptResponse) -> None:
        super().__init__(message)
        self.response = response


class ScriptResponse:
    """A TF Serving REST answer: the status and body the loopback REST API would have sent."""

    def __init__(self, status_code: int, content: bytes, url: str | None, content_type: str = "application/json") -> None:
        self.status_code = status_code
        self.content = content
        self.url = url
        self.encoding = "utf-8"
        self.headers = Headers({"Content-Type": content_type, "Content-Length": str(len(content))})
        self.failure: BaseException | None = None  # the ovserve error behind a failed answer (keeps its status)

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """The body as JSON (``kwargs``, as ``requests`` passes them to ``json.loads``, are accepted and ignored)."""
        return orjson.loads(self.content)

    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[bytes]:
        size = chunk_size or max(1, len(self.content))
        for start in range(0, len(self.content), size):
            yield self.content[start : start + size]

    def raise_for_status(self) -> None:
        if self.ok:
            return
        message = f"{self.status_code} {'Client' if self.status_code < 500 else 'Server'} Error: {self.reason} for url: {self.url}"
        try:
            from requests import HTTPError as RequestsHTTPError
        except ImportError:
            raise HTTPError(message, self) from None
        raise RequestsHTTPError(message, response=self)  # type: ignore[arg-type]

    def close(self) -> None:
        """Nothing to release; ``requests`` scripts sometimes call it."""

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"
