"""Every HTTP request's context on a Sanic app: its id in and out, its metric labels, and how it ended.

The app's request class opens the request context (``handler.request_context``)
when Sanic makes the request, with the caller's id (the first usable of
``id_headers``) or a new one and the OVMS labels its path means, and closes it
in ``respond``, which Sanic calls for every answer (a route's, its error
handler's, and its own refusals: no route, wrong method, a body too large):
the id is echoed as ``x-request-id`` and the context closed with the status
and body sizes, which is where the core counts the request and writes its
access line, before the answer is sent. Nothing here counts anything itself.

Why not ``on_request``/``on_response`` middleware: Sanic dispatches two
signals around every middleware call, 4.4 µs each on this machine, so the
pair would cost about 18 µs a request, 8 % of the tiny model's whole
request. This class adds 17 Python calls to a REST predict (101 before,
counted with ``sys.setprofile``), a few microseconds. Sanic makes the request
and runs its handler in the same task, so the context is current in the
route, in the error handler and in ``respond``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanic import Request

from ovserve.handler import request_context
from ovserve.handler.request_context import HEADER, REST

Labels = Callable[[str], tuple[str, str]]
"""A path's (api, method) in OVMS's labels (``handler.protocols.request_labels``)."""


def traced_request(labels: Labels, id_headers: tuple[str, ...] = (HEADER,)) -> type[Request]:
    """A Sanic request class that opens and closes a request context around each request (``build_app(request_class=…)``)."""

    class TracedRequest(Request):
        __slots__ = ("_ovserve_token",)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            sent = None
            for name in id_headers:
                value = self.headers.get(name)
                if value and request_context.usable(value):
                    sent = value
                    break
            api, method = labels(self.path)
            self._ovserve_token = request_context.begin(sent, api, REST, method, self.path, self.method)

        async def respond(self, response: Any = None, **kwargs: Any) -> Any:
            token, self._ovserve_token = self._ovserve_token, None
            if token is None:  # answered already (Sanic resets and responds again when sending fails): closed once
                return await super().respond(response, **kwargs)
            try:
                info = request_context.current()
                if response is not None and info is not None:
                    response.headers[HEADER] = info.request_id
                response = await super().respond(response, **kwargs)
            finally:
                status = getattr(response, "status", 500)
                body = getattr(response, "body", None)
                request_context.end(token, status, status < 400, len(self.body or b""), len(body) if body else 0)
            return response

    return TracedRequest
