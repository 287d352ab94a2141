"""`testbed run`'s table of configured inputs beside measured outcomes (harness/run/inputs.py): the
fault rules and receivers' settings the run was given, and what came of each, labelled so that an
input is never read back as a finding."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.run.inputs import CONFIGURED, MEASURED


def _rate(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_inputs(out: Console, summary: dict) -> None:
    given, found = summary.get("configured"), summary.get("measured")
    if not given or not found:
        return
    measured = {r["id"]: r for r in found.get("rules") or []}
    t = Table(title=f"fault rules: {CONFIGURED} | {MEASURED}")
    for name in ("rule", "link#event", "action", f"{CONFIGURED}: plan", f"{CONFIGURED}: share",
                 f"{MEASURED}: fired/matched", f"{MEASURED}: failure rate", "reading"):
        t.add_column(name, justify="right" if "share" in name or "rate" in name or "/" in name else "left")
    for r in given.get("rules") or []:
        m = measured.get(r["id"], {})
        share = "named messages" if r.get("share") is None else _rate(r["share"])
        t.add_row(r["id"], f"{r.get('link')}#{r.get('event') or '*'}", str(r.get("action")), str(r.get("plan")),
                  share, f"{m.get('fired', 0)}/{m.get('matched', 0)}", _rate(m.get("failure_rate")),
                  str(m.get("note") or ""))
    if not given.get("rules"):
        t.add_row("-", "-", "-", "no fault rule in force", "-", "-", "-", "")
    out.print(t)
    sites = (given.get("receivers") or {}).get("sites") or {}
    links = found.get("links") or {}
    if sites:
        st = Table(title=f"receivers' behaviours: {CONFIGURED} | {MEASURED}")
        for name in ("site", "link", f"{CONFIGURED}: answers 503", f"{CONFIGURED}: delay ms",
                     f"{MEASURED}: link failure rate"):
            st.add_column(name)
        for code, b in sites.items():
            st.add_row(code, str(b.get("link")), _rate(b.get("unavailable")), str(b.get("delay_ms")),
                       _rate((links.get(b.get("link")) or {}).get("rate")))
        out.print(st)
    e2e = found.get("end_to_end") or {}
    out.print(f"end-to-end error rate, {MEASURED}: {_rate(e2e.get('error_rate'))}; "
              f"{found.get('end_to_end_note') or ''}", soft_wrap=True)
