"""AWS Lambda adapter (imported as ``ovserve.aws_lambda``): arrives with its issue."""
