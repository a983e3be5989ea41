"""``python -m ovserve.server`` runs the ``ovserve`` command."""

from .cli import run

run()
