"""A request body that is one encoded image: SageMaker's ``image/jpeg``, ``image/png`` and ``application/x-image``.

SageMaker's built-in image algorithms take one image per request with these types, and batch transform sends an
image object the same way, so a client written for them (or a job over a bucket of photos) needs no glue code. The
body only becomes the model's single input as a ``[1]`` object array of its bytes: decoding, resizing and the cast
to the input's type are the engine's (``handler/image_inputs.py``), the same rules on every protocol. What is
checked here is what needs no model: that the bytes are a JPEG or PNG (by their magic bytes and header, never by
the declared type, since clients label JPEGs ``image/png`` and SageMaker's own algorithms sniff the content), so a
text file or a GIF is a 400 naming what arrived before any model is chosen or any decoder imported.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInput
from ..infer_request import ArrayBuilder
from ..signature import Signature
from . import image_headers

_PREFIX = image_headers.where() + ": "  # "the image: ", how image_headers starts a message without an input name


def parse(body: bytes, media_type: str) -> ArrayBuilder:
    """The arrays builder for one image body; InvalidInput now when the body is not a JPEG or PNG image."""
    try:
        image_headers.header(body)
    except InvalidInput as exc:
        raise InvalidInput(f"the {media_type} body: {exc.message.removeprefix(_PREFIX)}") from None
    images = np.empty(1, dtype=object)
    images[0] = body

    def arrays(signature: Signature) -> dict[str, np.ndarray]:
        names = signature.input_names()
        if len(names) != 1:
            raise InvalidInput(
                f"an image body ({media_type}) is one image for a model with a single input, and this model has "
                f"inputs {names[:20]}; send the image to a single-input model, or name the inputs in a JSON body "
                '({"instances": [{"<input>": {"b64": "..."}}]}) or KServe v2 BYTES tensors'
            )
        return {names[0]: images}

    return arrays
