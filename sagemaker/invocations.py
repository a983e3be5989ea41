"""``POST /invocations`` (and a multi-model endpoint's ``/models/{name}/invoke``) on Sanic.

The semantics (content types, ``Accept``, custom attributes, records) live in
``handler.invocations``, shared with the Lambda adapter; this only moves the
request and the answer across HTTP.
"""

from __future__ import annotations

from sanic import Request
from sanic.response import HTTPResponse, raw

from ovserve.handler.engine import Engine
from ovserve.handler.protocols import custom_attributes, invocations

from .scripts import EndpointScripts
from .settings import SageMakerSettings


async def invoke(request: Request, engine: Engine, settings: SageMakerSettings, model: str | None = None,
                 scripts: EndpointScripts | None = None) -> HTTPResponse:
    """Answer one invocation; ``model`` fixes the model (multi-model endpoints), else headers and body choose.

    With a ``code/inference.py`` for the request (``scripts``), the script answers instead, seeing the whole body.
    """
    if scripts is not None and scripts.handles(model):
        return await scripts.invoke(request, model)
    headers = request.headers
    answer = await invocations.invoke(
        engine, request.body, headers.get("content-type"), headers.get("accept"), headers.get(custom_attributes.HEADER),
        invocations.Defaults(settings.default_accept, settings.default_model), model,
    )
    return raw(answer.body, status=200, content_type=answer.content_type)
