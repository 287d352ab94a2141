"""A reconciliation's result, and the three ways it is shown: JSON, JUnit XML, a rich table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import orjson

from harness.reconcile.kinds import DESCRIPTIONS, KINDS
from harness.reconcile.records import TRUST, PartyRecords, record_view
from harness.reconcile.rules import Discrepancy


@dataclass
class Reconciliation:
    sources: dict[str, PartyRecords]            # broker, pas, spine, gp
    discrepancies: list[Discrepancy]
    checked: int
    disagreeing: int
    attempted: int | None = None                # bookings attempted, when a run says so
    scope: set[str] | None = None
    notes: list[str] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def denominator(self) -> int:
        """Bookings attempted when known (a run), otherwise every booking any party knows."""
        return self.attempted if self.attempted is not None else self.checked

    @property
    def error_rate(self) -> float:
        return round(self.disagreeing / self.denominator, 6) if self.denominator else 0.0

    def counts(self) -> dict[str, int]:
        c = Counter(d.kind for d in self.discrepancies)
        return {k: c.get(k, 0) for k in KINDS}

    def by_ubrn(self) -> dict[str, list[Discrepancy]]:
        out: dict[str, list[Discrepancy]] = {}
        for d in self.discrepancies:
            out.setdefault(d.ubrn, []).append(d)
        return out

    def views(self, ubrn: str) -> dict:
        s = self.sources
        return {
            "broker": record_view(s["broker"].first.get(ubrn)),
            "pas": [record_view(r) for r in s["pas"].get(ubrn)],
            "spine": record_view(s["spine"].first.get(ubrn)),
            "gp": record_view(s["gp"].first.get(ubrn)),
        }

    def checked_ubrns(self) -> Iterator[str]:
        """Every booking examined, in UBRN order: the ledger's (within scope) and the orphans'."""
        led = self.sources["broker"].first
        orphans = {d.ubrn for d in self.discrepancies if d.ubrn not in led}
        ubrns = led.keys() if self.scope is None else (self.scope & led.keys())
        yield from sorted({*ubrns, *orphans})

    def summary(self) -> dict:
        return {
            "checked": self.checked,
            "attempted": self.denominator,
            "disagreeing": self.disagreeing,
            "error_rate": self.error_rate,
            "counts": self.counts(),
        }

    def to_json(self, limit: int | None = None) -> dict:
        shown = self.discrepancies if limit is None else self.discrepancies[:limit]
        sources = {}
        for name, rec in self.sources.items():
            sources[name] = {"url": self.urls.get(name), "bookings": len(rec), "records": rec.records,
                             "without_ubrn": rec.unjoined, "unreadable": rec.malformed, "read": rec.read}
        return {
            **self.summary(),
            "discrepancies": [{"ubrn": d.ubrn, "kind": d.kind, "party": d.party, "detail": d.detail,
                               "views": self.views(d.ubrn)} for d in shown],
            "sources": sources,
            "notes": self.notes,
        }


def write_junit(rec: Reconciliation, path: Path, extra_properties: dict | None = None) -> None:
    """One test case per booking checked; a failure for each booking the parties disagree on."""
    issues = rec.by_ubrn()
    led = rec.sources["broker"].first
    suite = ET.Element("testsuite", name="reconciliation", tests=str(rec.checked),
                       failures=str(rec.disagreeing), errors="0", skipped="0")
    props = ET.SubElement(suite, "properties")
    for name, value in {"error_rate": rec.error_rate, "attempted": rec.denominator,
                        **{f"count.{k}": v for k, v in rec.counts().items()}, **(extra_properties or {})}.items():
        ET.SubElement(props, "property", name=name, value=str(value))
    for ubrn in rec.checked_ubrns():
        entry = led.get(ubrn)
        trust = entry[TRUST] if entry is not None and entry[TRUST] else "unknown"
        case = ET.SubElement(suite, "testcase", classname=f"reconcile.{trust}", name=f"UBRN {ubrn}")
        found = issues.get(ubrn)
        if found:
            failure = ET.SubElement(case, "failure", type=",".join(d.kind for d in found),
                                    message="; ".join(f"{d.kind}: {d.detail}" for d in found))
            failure.text = orjson.dumps(rec.views(ubrn), option=orjson.OPT_INDENT_2).decode()
    root = ET.Element("testsuites", name="testbed reconcile", tests=suite.get("tests", "0"),
                      failures=suite.get("failures", "0"), errors="0")
    root.append(suite)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _brief(view) -> str:
    if view is None:
        return "-"
    if isinstance(view, list):
        return " + ".join(_brief(v) for v in view) if view else "-"
    return f"{view.get('status', '?')} {view.get('slot', '')}".strip()


def render(console, doc: dict, limit: int = 20) -> None:
    """Prints a reconciliation document (`to_json` plus optional repair, score, links) as tables."""
    from rich.table import Table

    counts = Table(title=f"reconciliation: {doc['disagreeing']} of {doc['attempted']} bookings disagree"
                         f" (error rate {doc['error_rate']:.3f}; {doc['checked']} checked)")
    counts.add_column("kind")
    counts.add_column("count", justify="right")
    counts.add_column("meaning")
    for kind in KINDS:
        counts.add_row(kind, str(doc["counts"][kind]), DESCRIPTIONS[kind])
    console.print(counts)
    found = doc["discrepancies"]
    if found:
        t = Table(title=f"discrepancies (first {min(limit, len(found))} of {sum(doc['counts'].values())})")
        for col in ("UBRN", "kind", "broker", "pas", "spine", "gp"):
            t.add_column(col)
        for d in found[:limit]:
            v = d["views"]
            t.add_row(d["ubrn"], d["kind"], _brief(v["broker"]), _brief(v["pas"]), _brief(v["spine"]), _brief(v["gp"]))
        console.print(t)
    if "repair" in doc:
        r = doc["repair"]
        console.print(f"repair: {r['resent']} resends in {len(r['rounds'])} round(s); "
                      f"{sum(r['before'].values())} discrepancies before, {len(r['left'])} left")
        for title, items, fields in (
                ("moved to another slot (the trust had given theirs away)", r.get("rebooked"), ("from", "to")),
                ("left after repair", r["left"], ("kind", "reason"))):
            if items:
                lt = Table(title=title)
                for col in ("UBRN", *fields):
                    lt.add_column("why" if col == "reason" else col)
                for item in items[:limit]:
                    lt.add_row(item["ubrn"], *(item[f] for f in fields))
                console.print(lt)
    if "score" in doc:
        s = doc["score"]
        console.print(f"against the journal: precision {s['precision']:.3f}, recall {s['recall']:.3f} "
                      f"({s['true_positives']} of {s['injected']} injected losses found, {s['found']} reported)")
    if doc.get("links"):
        lt = Table(title="delivery error rate per link")
        for col in ("link", "attempts", "failed", "rate"):
            lt.add_column(col, justify="right" if col != "link" else "left")
        for link, entry in sorted(doc["links"].items()):
            lt.add_row(link, str(entry["attempts"]), str(entry["failed"]), f"{entry['rate']:.3f}")
        console.print(lt)
    for note in doc.get("notes", []):
        console.print(f"note: {note}")
