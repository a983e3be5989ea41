"""A model version's state as clients see it: TF Serving's five states and one status row.

A leaf module (it imports nothing of ovserve's) so that codecs, which write
status answers, need not import the repository that computes them.
"""

from __future__ import annotations

from dataclasses import dataclass

START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"


@dataclass(frozen=True)
class VersionStatus:
    """One row of a model's status, as TF Serving reports it."""

    version: int
    state: str
    error_code: str
    error_message: str
