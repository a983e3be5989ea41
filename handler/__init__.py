"""ovserve core: models, versions, codecs and inference, with no web framework inside.

Importing this package is cheap on purpose (no sanic, no grpc, no openvino):
entry points such as the Lambda handler pay only for what they use.
"""

__version__ = "0.1.0"
