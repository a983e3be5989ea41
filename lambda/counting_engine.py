"""The engine, noting on the current invocation which model version answered and how many records.

Every prediction of every Lambda event kind passes ``Engine.predict`` (the
protocols' handlers and the S3 batch path all call it), so this is the one
place the invocation's metrics learn the model, the version and the record
count, without each path parsing its body a second time. The model is noted
before predicting, and only when it is served, so a failed request still
counts against its model and an unknown name never becomes a dimension value;
the version only once one has answered. Records are the answer's first
dimension (its batch), summed over the predictions of one invocation (the
chunks of an S3 object).
"""

from __future__ import annotations

from ovserve.handler.engine import Engine, InferRequest, Prediction

from . import invocation


class CountingEngine(Engine):
    """``Engine``, recording each prediction on ``invocation.current()`` when there is one."""

    async def predict(self, request: InferRequest) -> Prediction:
        current = invocation.current()
        if current is None:
            return await super().predict(request)
        if self.has_model(request.model):
            current.model = request.model
        prediction = await super().predict(request)
        current.version = prediction.version
        current.records += _rows(prediction)
        return prediction


def _rows(prediction: Prediction) -> int:
    """The answer's batch: the first output's first dimension (1 for a scalar output or none)."""
    first = next(iter(prediction.outputs.values()), None)
    return int(first.shape[0]) if first is not None and first.ndim else 1
