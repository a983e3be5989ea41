"""SageMaker ``code/inference.py`` scripts, shared by the SageMaker and Lambda adapters.

A ``model.tar.gz`` written for AWS's TF Serving container carries
``code/inference.py`` with ``handler(data, context)``, or ``input_handler`` +
``output_handler``; one written for the SageMaker inference toolkit has
``model_fn``/``input_fn``/``predict_fn``/``output_fn`` (or ``transform_fn``).

- ``settings``: the environment (``SAGEMAKER_PROGRAM``, loopback ports, threads);
- ``discovery``: where the script is (and where a mis-packed one was found);
- ``requirements``: ``code/requirements.txt`` installed with pip at start-up;
- ``loading``: importing the script and deciding its style;
- ``context``, ``response``, ``model_handle``: what the script's functions receive;
- ``tfs_style``, ``toolkit``: one request through each style; ``calls``, ``answers``:
  calling user code, and what it returns or raises as one answer;
- ``threads``, ``bridge``: scripts run on their own threads, and reach the
  engine on the event loop from there, so a script calling back into the
  server never blocks it;
- ``host``: the scripts of an endpoint, made ready and asked to answer.

Nothing here imports a web framework, gRPC or ``requests``; the adapters
start the loopback TF Serving REST and gRPC servers that ``context.rest_uri``
and ``context.grpc_port`` point at. Importing this package is cheap: each
module imports what it needs itself.
"""
