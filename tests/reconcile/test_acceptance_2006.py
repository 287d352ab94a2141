"""Issue 4's acceptance: the 2006 run found, named, repaired, and gated.

Seed 7, 1,000 bookings, 57% of the broker's booking messages to the trusts dropped, fire-and-forget.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rich.console import Console

from harness.reconcile import render, write_junit
from harness.cli.reconcile import check_misses
from harness.run.error_rates import link_rates
from tests.booking_broker import direct_driver as dd
from tests.reconcile.helpers import by_kind, configure, faulted, reconcile
from tests.stack_inprocess import inprocess_stack

DROP_57 = {"link": "broker->pas:*", "event": "booking-request", "action": "drop", "probability": 0.57}


async def test_the_2006_run_is_found_named_repaired_and_then_passes_the_gate(tmp_path):
    async with inprocess_stack(tmp_path, population_size=200) as (urls, client, _):
        await configure(client, urls, 7, [DROP_57])
        results = await dd.drive(client, urls, bookings=1000, seed=7)
        assert all(status == 200 for _, status, _ in results)

        rec, doc, journal = await reconcile(client, urls)
        lost = faulted(journal, "broker->pas:", "drop")
        assert 0.52 <= rec.error_rate <= 0.62, rec.error_rate
        assert rec.checked == rec.denominator == 1000
        assert by_kind(rec) == {"missing_at_pas": lost}         # exactly the lost UBRNs, nothing else
        assert doc["counts"]["missing_at_pas"] == len(lost) == rec.disagreeing
        assert (doc["score"]["precision"], doc["score"]["recall"]) == (1.0, 1.0)
        assert doc["sources"]["broker"]["read"] == [f"{urls.broker}/Appointment/$export (export)"]
        one = next(d for d in doc["discrepancies"])
        assert one["views"]["pas"] == [] and one["views"]["broker"]["status"] == "booked"
        assert one["views"]["spine"]["slot"] == one["views"]["broker"]["slot"]

        # The gate fails, saying which bound and by how much.
        rates = link_rates(journal)
        misses = check_misses(rec.summary(), rates, 0.0, [("broker->pas:*#booking-request", 0.5),
                                                          ("broker->spine", 0.0)])
        assert misses[0].startswith(f"end-to-end error rate {rec.error_rate:.4f} exceeds the maximum 0")
        assert any(m.startswith("link broker->pas:RT") for m in misses[1:])
        assert not any("broker->spine" in m for m in misses)

        # JUnit: one case per booking, a failure for each lost one.
        junit = tmp_path / "reconcile.xml"
        write_junit(rec, junit)
        suite = ET.parse(junit).getroot().find("testsuite")
        cases = suite.findall("testcase")
        assert len(cases) == 1000 and int(suite.get("failures")) == len(lost)
        failed = {c.get("name").split()[-1] for c in cases if c.find("failure") is not None}
        assert failed == lost
        assert {c.find("failure").get("type") for c in cases if c.find("failure") is not None} == {"missing_at_pas"}

        # The table shows the counts and the score.
        console = Console(record=True, width=160)
        render(console, doc)
        text = console.export_text()
        assert f"{len(lost)} of 1000 bookings disagree" in text and "precision 1.000, recall 1.000" in text

        # Repair: resend through the broker (the drops still in force), reconcile again: nothing left.
        rec2, doc2, _ = await reconcile(client, urls, journal=False, repair=True)
        assert rec2.discrepancies == [] and doc2["repair"]["left"] == []
        assert doc2["repair"]["before"]["missing_at_pas"] == len(lost)
        assert check_misses(rec2.summary(), None, 0.0, []) == []
        # Every repair went through the broker, journaled as such, and the ledger never changed.
        repairs = [e for e in await dd.journal(client, urls) if e.get("purpose") == "repair"]
        assert {e["ubrn"] for e in repairs} == lost and {e["link"][:12] for e in repairs} == {"broker->pas:"}
        assert set(await dd.pas_ubrns(client, urls)) == set(await dd.ubrns_at(client, f"{urls.broker}/Appointment"))
