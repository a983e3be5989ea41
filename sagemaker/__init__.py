"""SageMaker adapter: ``/ping``, ``/invocations``, multi-model ``/models``, batch transform; started by ``serve``."""
