"""What every party's searches owe a client, checked over the socket with plain HTTP as the referee:
the pages a search's `next` links lead to, and every entry's fullUrl read back as the same resource."""

from __future__ import annotations

import httpx

FHIR = {"Accept": "application/fhir+json"}


def pages(url: str, params: dict | None = None, most: int | None = None) -> list[dict]:
    """The pages of a search (every one, or the first `most`) by its `next` links, each link's
    length checked to stay the same."""
    bundles, lengths = [], set()
    with httpx.Client(headers=FHIR, timeout=30) as http:
        next_url: str | None = url
        while next_url and (most is None or len(bundles) < most):
            r = http.get(next_url, params=params if not bundles else None)
            assert r.status_code == 200, r.text
            bundles.append(r.json())
            next_url = next((link["url"] for link in bundles[-1]["link"] if link["relation"] == "next"), None)
            if next_url:
                lengths.add(len(next_url))
    assert len(lengths) <= 1, f"the next link grew page by page: {sorted(lengths)}"
    return bundles


def total(url: str, params: dict | None = None) -> int:
    with httpx.Client(headers=FHIR, timeout=30) as http:
        r = http.get(url, params={**(params or {}), "_count": 0})
    assert r.status_code == 200, r.text
    return r.json()["total"]


def read_back(bundles: list[dict]) -> int:
    """GETs every entry's fullUrl; each must answer the very resource the searchset held. Returns how many."""
    read = 0
    with httpx.Client(headers=FHIR, timeout=30) as http:
        for bundle in bundles:
            for entry in bundle["entry"]:
                r = http.get(entry["fullUrl"])
                assert r.status_code == 200, f"{entry['fullUrl']}: {r.status_code}"
                assert r.json() == entry["resource"], entry["fullUrl"]
                read += 1
    return read
