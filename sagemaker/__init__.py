"""SageMaker adapter (/ping, /invocations, multi-model, batch transform): arrives with its issue."""
