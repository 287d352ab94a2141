"""A legacy trust's record is its legacy PAS's flat extract (docs/legacy-pas.md): a booking the
broker's ledger holds and the extract lacks is lost at that trust, named by UBRN; the middleware's
journal is scored beside the broker's; a run folder keeps both and is judged offline. Recorded
records, no stack."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import orjson
import pytest

from harness.cli.reconcile import RunContext
from harness.reconcile.kinds import MISSING_AT_PAS
from harness.reconcile.legacy import ingest_extract, joined
from harness.reconcile.records import PartyRecords, Strings
from harness.reconcile.rules import reconcile_records
from harness.reconcile.score import injected
from harness.reconcile.sources import PartyUnreachable, read_stack
from harness.replay.trace import Tracer
from harness.stack.endpoints import StackUrls

pytestmark = pytest.mark.timeout(60)

SLOTS = {"000000000001": ("RT4-S-1", "2006-07-03T09:00:00Z", "2006-07-03T09:15:00Z"),
         "000000000002": ("RT4-S-2", "2006-07-03T09:15:00Z", "2006-07-03T09:30:00Z"),
         "000000000003": ("RT4-S-3", "2006-07-03T09:30:00Z", "2006-07-03T09:45:00Z")}
LOST = "000000000002"


def _extract(ubrns) -> list[dict]:
    """The legacy PAS's rows: its times as HL7 v2 TS, as such systems export them."""
    rows = []
    for i, ubrn in enumerate(ubrns):
        slot, start, end = SLOTS[ubrn]
        ts = lambda iso: iso.replace("-", "").replace(":", "").replace("T", "").replace("Z", "+0000")  # noqa: E731
        rows.append({"trust_ods": "RT4", "filler_id": f"F{i}", "ubrn": ubrn, "nhs_number": "9990000018",
                     "service_id": "RT4-cardiology", "slot_id": slot, "start": ts(start), "end": ts(end),
                     "status": "booked", "updated_at": "20060605090000+0000"})
    return rows


def _parties(extract: list[dict]) -> dict[str, PartyRecords]:
    strings = Strings()
    out = {name: PartyRecords(name, strings) for name in ("broker", "pas", "spine", "gp")}
    for ubrn, (slot, start, end) in SLOTS.items():
        for name, practice in (("broker", "Y90001"), ("spine", None), ("gp", "Y90001")):
            out[name].add(ubrn, ("booked", slot, start, end, "RT4", practice))
    ingest_extract(extract, out["pas"])
    return out


def test_a_booking_missing_from_the_legacy_extract_is_lost_at_its_trust():
    p = _parties(_extract([u for u in SLOTS if u != LOST]))
    outcome = reconcile_records(p["broker"], p["pas"], p["spine"], p["gp"])
    assert [(d.ubrn, d.kind, d.party) for d in outcome.discrepancies] == [(LOST, MISSING_AT_PAS, "pas")]
    assert "RT4" in outcome.discrepancies[0].detail
    assert outcome.checked == 3 and outcome.disagreeing == 1


def test_an_extract_holding_every_booking_agrees_with_the_ledger():
    # v2 times read as the instants the ledger holds: nothing differs.
    p = _parties(_extract(SLOTS))
    assert reconcile_records(p["broker"], p["pas"], p["spine"], p["gp"]).discrepancies == []


def test_a_row_without_a_ubrn_is_the_trusts_own_booking_and_one_without_any_id_unjoined():
    into = PartyRecords("pas")
    ingest_extract([{"trust_ods": "RT4", "filler_id": "F9", "ubrn": "", "slot_id": "S", "status": "booked"},
                    {"trust_ods": "RT4", "status": "booked"}, "not a row"], into)
    assert list(into.first) == ["pas:RT4/Appointment/F9"]
    assert into.unjoined == 1 and into.malformed == 1


def _entry(seq: int, link: str, ubrn: str, delivered: bool = True, event: str = "booking-request") -> dict:
    at = f"2006-06-05T09:00:{int(ubrn[-1]) * 2 + link.startswith('middleware'):02d}"
    return {"seq": seq, "link": link, "ubrn": ubrn, "event": event, "delivered": delivered,
            "message_id": f"m-{ubrn}", "purpose": "delivery", "at": at}


def _journals() -> tuple[list[dict], list[dict]]:
    broker = [_entry(i + 1, "broker->pas:RT4", u) for i, u in enumerate(SLOTS)]
    # The middleware delivered two; the third it took and never sent on (lost from its queue).
    middleware = [_entry(1, "middleware->pas:RT4", "000000000001"),
                  _entry(2, "middleware->pas:RT4", "000000000003", event="SIU^S12")]
    return broker, middleware


def test_the_middleware_journal_joins_the_brokers_in_the_score():
    broker, middleware = _journals()
    ledger = {u: "booked" for u in SLOTS}
    # The broker's journal alone says every message reached the trust's endpoint: nothing injected.
    assert injected(broker, ledger) == set()
    both = joined(broker, middleware)
    assert {e["journal"] for e in both if e["link"].startswith("middleware")} == {"middleware"}
    assert injected(both, ledger) == {(LOST, "pas", "loss")}
    # A message the middleware sent and the legacy PAS never accepted is lost too.
    middleware[1]["delivered"] = False
    assert injected(joined(broker, middleware), ledger) == {(LOST, "pas", "loss"), ("000000000003", "pas", "loss")}


def test_a_loss_on_the_brokers_hop_to_a_legacy_trust_counts_once():
    broker, middleware = _journals()
    broker[1]["delivered"] = False
    assert injected(joined(broker, middleware), {u: "booked" for u in SLOTS}) == {(LOST, "pas", "loss")}


def test_a_trace_follows_the_booking_from_the_broker_through_the_middleware():
    broker, middleware = _journals()
    tracer = Tracer(scenario={"seed": 5}, id_salt="s", journal=joined(broker, middleware), bookings=[], views={},
                    discrepancies=[])
    hops = tracer.trace("000000000003")["hops"]
    assert [(h["link"], h.get("journal")) for h in hops] == [("broker->pas:RT4", None),
                                                             ("middleware->pas:RT4", "middleware")]
    # The lost one never left the middleware: its trace ends at the broker's hop.
    assert [h["link"] for h in tracer.trace(LOST)["hops"]] == ["broker->pas:RT4"]


def _folder(tmp_path: Path) -> Path:
    """A run folder of a legacy run: the capture, both journals and the extract."""
    folder = tmp_path / "run"
    folder.mkdir()
    broker, middleware = _journals()
    p = _parties(_extract([u for u in SLOTS if u != LOST]))
    views = []
    for ubrn in SLOTS:
        v = {"ubrn": ubrn}
        for name in ("broker", "spine", "gp"):
            rec = p[name].first[ubrn]
            v[name] = dict(zip(("status", "slot", "start", "end", "trust", "practice"), rec))
        v["pas"] = [dict(zip(("status", "slot", "start", "end", "trust", "practice"), r)) for r in p["pas"].get(ubrn)]
        views.append(v)
    files = {"journal.jsonl": broker, "middleware-journal.jsonl": joined([], middleware), "views.jsonl": views,
             "bookings.jsonl": [{"ubrn": u} for u in SLOTS]}
    for name, rows in files.items():
        (folder / name).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    (folder / "scenario.json").write_text(json.dumps({"legacy": {"trusts": ["RT4"]}}))
    (folder / "summary.json").write_text(json.dumps({"run": {"stack": "embedded"}}))
    (folder / "legacy-extract.json").write_text(json.dumps(_extract([u for u in SLOTS if u != LOST])))
    return folder


def test_a_legacy_run_folder_is_judged_offline_with_both_journals(tmp_path):
    ctx = RunContext(None, _folder(tmp_path), None)
    assert ctx.legacy_trusts == ("RT4",)
    rec, doc = ctx.reconcile_offline()
    assert [(d.ubrn, d.kind) for d in rec.discrepancies] == [(LOST, MISSING_AT_PAS)]
    assert doc["score"]["precision"] == 1.0 and doc["score"]["recall"] == 1.0 and doc["score"]["injected"] == 1
    assert "middleware->pas:RT4" in doc["links"]


URLS = StackUrls(broker="http://b.test", spine="http://s.test", pas="http://p.test", gp="http://g.test",
                 legacy_pas="http://l.test")


def _stack(extract_status: int | None):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "l.test":
            if extract_status is None:
                raise httpx.ConnectError("refused", request=request)
            assert request.url.path == "/extract/appointments" and request.url.params["format"] == "json"
            return httpx.Response(extract_status, json=_extract(SLOTS) if extract_status == 200 else {})
        if request.url.path.endswith("/Organization"):
            return httpx.Response(200, json={"resourceType": "Bundle", "entry": []})
        return httpx.Response(200, json={"resourceType": "Bundle", "entry": []})
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("status, legacy, held", [(200, True, 3), (200, None, 3), (None, None, 0), (200, False, 0)])
async def test_the_legacy_extract_is_read_into_the_trusts_records(status, legacy, held):
    async with _stack(status) as client:
        parties = await read_stack(client, URLS, legacy)
    assert len(parties["pas"]) == held


@pytest.mark.parametrize("status", [None, 500])
async def test_a_legacy_pas_that_must_answer_and_does_not_is_unreachable(status):
    async with _stack(status) as client:
        with pytest.raises(PartyUnreachable, match="legacy PAS at http://l.test/extract/appointments"):
            await read_stack(client, URLS, True)


@pytest.mark.parametrize("up", [True, False])
async def test_a_live_check_takes_the_middlewares_journal_when_one_answers(up):
    from harness.reconcile.legacy import middleware_journal_if_up

    def handler(request: httpx.Request) -> httpx.Response:
        if not up:
            raise httpx.ConnectError("refused", request=request)
        since = int(request.url.params["since"])
        entries = [_entry(1, "middleware->pas:RT4", "000000000001")] if since == 0 else []
        return httpx.Response(200, json={"entries": entries, "head": 1, "last": 1})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        got = await middleware_journal_if_up(client, "http://mw.test")
        assert await middleware_journal_if_up(client, None) == []
    assert [(e["link"], e["journal"]) for e in got] == ([("middleware->pas:RT4", "middleware")] if up else [])


@pytest.mark.parametrize("extract, kinds", [([{"referral_id": "R1", "trust_ods": "RT4", "status": "received"}], []),
                                            ([], ["referral_missing_at_pas"])])
async def test_a_legacy_trusts_referrals_are_read_from_its_extract(extract, kinds):
    from harness.reconcile.referrals import reconcile_referrals
    from party_common.booking import REFERRAL_SYSTEM
    from party_common.referral import REFERRAL_STATE_EXT

    referral = {"resourceType": "ServiceRequest", "identifier": [{"system": REFERRAL_SYSTEM, "value": "R1"}],
                "extension": [{"url": REFERRAL_STATE_EXT, "valueCode": "routed"}],
                "performer": [{"identifier": {"value": "RT4"}}]}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "l.test":
            assert request.url.path == "/extract/referrals"
            return httpx.Response(200, json=extract)
        entries = [{"resource": referral}] if request.url.host == "b.test" else []
        return httpx.Response(200, json={"resourceType": "Bundle", "entry": entries})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        outcome = await reconcile_referrals(client, URLS)
    assert [d.kind for d in outcome.discrepancies] == kinds
