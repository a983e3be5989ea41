"""Scraping ``GET /metrics`` from a real process and reading it with prometheus_client's own text parser."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Scrape:
    """One parsed scrape: families by name (the parser's own objects)."""

    families: dict
    text: str

    def samples(self, family: str, suffix: str = "") -> list:
        """The family's samples whose name ends in ``suffix`` (``_count``, ``_bucket``…; the parser names counters ``_total``)."""
        found = self.families.get(family)
        if found is None:
            return []
        return [s for s in found.samples if s.name.endswith(suffix) and not (suffix == "" and s.name.endswith("_created"))]

    def value(self, family: str, suffix: str = "", **labels: str) -> float | None:
        """The value of the one sample with exactly ``labels`` (None when the series does not exist)."""
        matching = [s.value for s in self.samples(family, suffix) if s.labels == labels]
        assert len(matching) <= 1, (family, labels, matching)
        return matching[0] if matching else None

    def buckets(self, family: str, **labels: str) -> list[tuple[str, float]]:
        """A histogram series' (le, cumulative count) pairs in printed order."""
        return [(s.labels["le"], s.value) for s in self.samples(family, "_bucket")
                if {k: v for k, v in s.labels.items() if k != "le"} == labels]


def scrape(client: httpx.Client) -> Scrape:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    return Scrape({family.name: family for family in text_string_to_metric_families(response.text)}, response.text)
