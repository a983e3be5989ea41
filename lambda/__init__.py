"""AWS Lambda adapter (imported as ``ovserve.aws_lambda``): HTTP, direct and S3 events; entry point ``handler.handler``."""
