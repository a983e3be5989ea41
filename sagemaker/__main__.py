"""``python -m ovserve.sagemaker [serve] …``: the same as the image's entry point."""

from .entrypoint import run

run()
