"""`report.html`: one self-contained page per run, drawn from `report.json` (harness/report/data.py).

Self-contained means it renders with no network: CSS inline, plots as inline SVG drawn here, no
fonts or scripts fetched. The one inline script only sorts tables; the page is complete without it.
Every string from the run is escaped: link names, details and rule parameters come from files a
user may have written.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from harness.report.data import build_report
from harness.run.inputs import CONFIGURED, MEASURED
from harness.run.folder import write_json

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999933")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
COMBINED = "#1d2328"   # the combined (all links) line: darkest and thickest


class Raw(str):
    """HTML built here (already escaped), as opposed to text from the run."""


def esc(value) -> str:
    if isinstance(value, Raw):
        return value
    return html.escape("" if value is None else str(value), quote=True)


def fmt_num(value, digits: int = 3) -> str:
    """A number for people: `1,420`, `30.4`, `0.57`; never `1.42e+03`."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    if value == 0:
        return "0"
    # `digits` significant figures in fixed notation, trailing zeros dropped.
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_ms(value) -> str:
    """A latency: `304 ms` below a second, `1.42 s` from one on."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–"
    return f"{fmt_num(float(value))} ms" if abs(value) < 1000 else f"{fmt_num(value / 1000)} s"


def fmt_rate(value) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def table(headers: Iterable[str], rows: Iterable[Iterable], *, cls: str = "", caption: str | None = None,
          numeric: Iterable[int] = (), row_cls=None) -> str:
    """A table; `numeric` names the columns aligned right, `row_cls(i)` a class per row."""
    right = set(numeric)
    head = "".join(f'<th{" class=num" if i in right else ""}>{esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for n, row in enumerate(rows):
        cells = "".join(f'<td{" class=num" if i in right else ""}>{esc(c)}</td>' for i, c in enumerate(row))
        klass = row_cls(n) if row_cls else ""
        body.append(f'<tr{f" class={klass}" if klass else ""}>{cells}</tr>')
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<table class="{esc(cls)}">{cap}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def section(sid: str, title: str, parts: Iterable[str]) -> str:
    return f'<section id="{sid}"><h2>{esc(title)}</h2>{"".join(parts)}</section>'


def anchor(ubrn: str) -> str:
    return f"trace-{ubrn}"


# -- plots ---------------------------------------------------------------------------------------------

def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


class Line:
    """One line of a plot: its points (None a gap), legend label and the attributes that name it."""

    def __init__(self, rates: list[float | None], label: str, attrs: dict[str, str], combined: bool = False):
        self.rates, self.label, self.attrs, self.combined = rates, label, attrs, combined


def line_plot(title: str, edges: list[float], lines: list[Line], *, width: int = 760, height: int = 270) -> str:
    """Error rate (0..1) over time, a dot per bucket with attempts, joined across those without; a
    combined line, when given, drawn last and thickest so it reads above the others."""
    left, right, top, bottom, legend_w = 56, 16, 28, 44, 230
    pw, ph = width - left - right - legend_w, height - top - bottom
    t0, t1 = (edges[0], edges[-1]) if edges else (0.0, 1.0)
    span = (t1 - t0) or 1.0
    mids = [(a + b) / 2 for a, b in zip(edges, edges[1:])] or [t0]

    def x(t: float) -> float:
        return left + (t - t0) / span * pw if t1 > t0 else left + pw / 2

    def y(r: float) -> float:
        return top + ph - r * ph

    out = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
           f'<text class="title" x="{left}" y="18">{esc(title)}</text>']
    for r in (0, 0.25, 0.5, 0.75, 1):
        out.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{y(r):.1f}" y2="{y(r):.1f}"/>'
                   f'<text class="tick" x="{left - 6}" y="{y(r) + 4:.1f}" text-anchor="end">{r * 100:.0f}%</text>')
    for t in _ticks(t0, t1):
        out.append(f'<line class="axis" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}"/>'
                   f'<text class="tick" x="{x(t):.1f}" y="{top + ph + 16}" text-anchor="middle">{fmt_num(t)}</text>')
    out.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}"/>'
               f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>'
               f'<text class="label" x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">'
               f'elapsed time (s, journal clock)</text>'
               f'<text class="label" transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">error rate</text>')
    ordered = [ln for ln in lines if not ln.combined] + [ln for ln in lines if ln.combined]
    colours = iter(PALETTE * 8)
    for i, line in enumerate(ordered):
        n = i if not line.combined else 0
        colour = COMBINED if line.combined else next(colours)
        dash = "" if line.combined else DASHES[(n // len(PALETTE)) % len(DASHES)]
        stroke = 3.2 if line.combined else 1.4
        d, pen_down, dots = [], False, []
        for t, rate in zip(mids, line.rates):
            if rate is None:
                continue   # the smoothed line runs on across a bucket with no attempt; its dots do not
            d.append(f'{"L" if pen_down else "M"}{x(t):.1f} {y(rate):.1f}')
            dots.append(f'<circle cx="{x(t):.1f}" cy="{y(rate):.1f}" r="{2.4 if line.combined else 1.6}"/>')
            pen_down = True
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        names = "".join(f' data-{k}="{esc(v)}"' for k, v in line.attrs.items())
        out.append(f'<g class="series{" combined" if line.combined else ""}"{names} stroke="{colour}" '
                   f'fill="{colour}"><path d="{" ".join(d) or "M0 0"}" fill="none" stroke-width="{stroke}"'
                   f'{dash_attr}/>{"".join(dots)}</g>')
        ly = top + 8 + i * 18
        lx = left + pw + 18
        out.append(f'<g class="legend{" combined" if line.combined else ""}"><line x1="{lx}" x2="{lx + 22}" '
                   f'y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="{stroke + 1}"{dash_attr}/>'
                   f'<text x="{lx + 28}" y="{ly + 4}">{esc(line.label)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(counts: dict[str, int], *, width: int = 720) -> str:
    label_w, bar_w, row_h, top = 170, width - 170 - 70, 24, 8
    height = top * 2 + row_h * len(counts)
    peak = max(counts.values(), default=0) or 1
    out = [f'<svg class="bars" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="discrepancies by kind">']
    for i, (kind, n) in enumerate(counts.items()):
        yy = top + i * row_h
        w = n / peak * bar_w
        out.append(f'<text class="tick" x="{label_w - 8}" y="{yy + 16}" text-anchor="end">{esc(kind)}</text>'
                   f'<rect class="bar" data-kind="{esc(kind)}" x="{label_w}" y="{yy + 4}" width="{w:.1f}" '
                   f'height="{row_h - 8}"/>'
                   f'<text class="tick" x="{label_w + w + 6:.1f}" y="{yy + 16}">{n:,}</text>')
    out.append("</svg>")
    return "".join(out)


# -- sections ------------------------------------------------------------------------------------------

def _expect_lines(expect: dict | None) -> list[str]:
    if not expect:
        return []
    lines = []

    def bound(b: dict) -> str:
        return " and ".join(f"{k} {b[k]:g}" for k in ("min", "max") if b.get(k) is not None)

    if expect.get("error_rate"):
        lines.append(f"end-to-end error rate: {bound(expect['error_rate'])}")
    for kind, b in (expect.get("discrepancies") or {}).items():
        if b:
            lines.append(f"discrepancies {kind}: {bound(b)}")
    for glob, b in (expect.get("links") or {}).items():
        lines.append(f"link {glob}: {bound(b)}")
    for name, b in (expect.get("score") or {}).items():
        if b:
            lines.append(f"score {name}: {bound(b)}")
    return lines


def scenario_section(doc: dict) -> str:
    sc, run = doc["scenario"], doc["summary"].get("run", {})
    workload = sc.get("workload", {})
    facts = [("name", sc.get("name") or "(unnamed)"), ("seed", sc.get("seed")), ("delivery", sc.get("delivery")),
             ("bookings", workload.get("bookings")), ("concurrency", workload.get("concurrency")),
             ("receivers deduplicate", "yes" if sc.get("receivers", {}).get("dedupe", True) else "no"),
             ("stack", run.get("stack"))]
    out = []
    if sc.get("description"):
        out.append(f"<p>{esc(sc['description'])}</p>")
    out.append("<dl class=facts>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>")
    if not (doc.get("configured") or {}).get("rules"):
        out.append("<p>No faults injected.</p>")
    else:
        out.append('<p>The fault plan is under <a href="#inputs">configured versus measured</a>, '
                   "beside what the run measured.</p>")
    lines = _expect_lines(sc.get("expect"))
    verdict = doc["summary"].get("expectations")
    if not lines:
        out.append("<p>The scenario sets no expectations.</p>")
    else:
        met = verdict is not None and verdict.get("met")
        out.append(f'<h3>Expectations: <span class="{"ok" if met else "bad"}">'
                   f'{"all met" if met else ("missed" if verdict else "not judged")}</span></h3>')
        out.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in lines) + "</ul>")
        missed = (verdict or {}).get("missed") or []
        if missed:
            out.append('<ul class="missed">' + "".join(f"<li>missed: {esc(m)}</li>" for m in missed) + "</ul>")
    return section("scenario", "Scenario", out)


def side_by_side(lead: tuple[str, ...], configured: tuple[str, ...], measured: tuple[str, ...],
                 rows: list[tuple[list, dict]], cls: str, caption: str) -> str:
    """A table whose columns are grouped under "configured (input)" and "measured (outcome)", so no
    number can be read without knowing which it is; each row is (its cells in order, its data- attributes)."""
    group = (f"<tr><th colspan={len(lead)}></th><th class=configured colspan={len(configured)}>{esc(CONFIGURED)}"
             f"</th><th class=measured colspan={len(measured)}>{esc(MEASURED)}</th></tr>")
    kinds = [""] * len(lead) + ["configured"] * len(configured) + ["measured"] * len(measured)
    names = "".join(f'<th{f" class={k}" if k else ""}>{esc(h)}</th>' for k, h in zip(kinds, (*lead, *configured, *measured)))
    body = []
    for cells, attrs in rows:
        tds = "".join(f'<td{f" class={k}" if k else ""}>{esc(c)}</td>' for k, c in zip(kinds, cells))
        data = "".join(f' data-{k}="{esc(v)}"' for k, v in attrs.items())
        body.append(f"<tr{data}>{tds}</tr>")
    return (f'<table class="{esc(cls)}"><caption>{esc(caption)}</caption><thead>{group}<tr>{names}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _share(value) -> str:
    return "named messages" if value is None else fmt_rate(value)


def inputs_section(doc: dict) -> str:
    """The fault plan and the receivers' settings (inputs) beside what the run measured (outcomes)."""
    given, found = doc.get("configured") or {}, doc.get("measured") or {}
    title = "Configured versus measured"
    if not given:
        return section("inputs", title, ["<p>This run folder records no configured inputs.</p>"])
    out = [f"<p>The <b>{esc(CONFIGURED)}</b> columns are what the scenario told the testbed to do: reading "
           "them back is not a finding. The <b>" + esc(MEASURED) + "</b> columns are what the run came to. "
           "Where a rule made every failure on the messages it matches, their measured rate is marked as "
           "the input it is.</p>"]
    measured = {r["id"]: r for r in found.get("rules") or []}
    rows = []
    for r in given.get("rules") or []:
        m = measured.get(r["id"], {})
        rows.append(([r["id"], r.get("link"), r.get("event") or "any", r.get("action"), r.get("plan"),
                      f"{_share(r.get('share'))} ({r.get('basis')})", fmt_num(m.get("expected_fired")),
                      fmt_num(m.get("matched")), fmt_num(m.get("fired")), fmt_rate(m.get("failure_rate")),
                      m.get("note") or "–"],
                     {"rule": r["id"], "share": "" if r.get("share") is None else r["share"],
                      "failure-rate": "" if m.get("failure_rate") is None else m["failure_rate"],
                      "input": "yes" if m.get("rate_is_input") else "no"}))
    if rows:
        out.append(side_by_side(("rule", "link", "event", "action"),
                                ("plan", "share of matching messages", "expected to fire"),
                                ("messages matched", "fired", "failure rate", "reading"), rows,
                                cls="inputs rules", caption="fault rules in force"))
    else:
        out.append("<p>No fault rule was in force.</p>")
    links = found.get("links") or {}
    sites = (given.get("receivers") or {}).get("sites") or {}
    if sites:
        srows = [([code, b.get("link"), fmt_rate(b.get("unavailable")), fmt_ms(b.get("delay_ms")),
                   fmt_rate((links.get(b.get("link")) or {}).get("rate"))], {"site": code})
                 for code, b in sites.items()]
        out.append(side_by_side(("site", "link"), ("answers 503", "delay"), ("failure rate on the link",),
                                srows, cls="inputs sites",
                                caption="receivers' behaviours the scenario set (the link carries every site of the trust)"))
    e2e = found.get("end_to_end") or {}
    causes = found.get("lost_by_cause") or {}
    out.append(f'<p class="end-to-end">End-to-end error rate, {esc(MEASURED)}: <b>{esc(fmt_rate(e2e.get("error_rate")))}'
               f"</b> ({esc(fmt_num(e2e.get('disagreeing')))} of {esc(fmt_num(e2e.get('attempted')))} bookings "
               f"disagree). {esc(found.get('end_to_end_note') or '')}.</p>")
    if causes:
        out.append(table(("first failed hop of a lost booking", "bookings"), list(causes.items()),
                         cls="causes", numeric=(1,), caption="lost bookings by cause"))
    return section("inputs", title, out)


def summary_section(doc: dict) -> str:
    s = doc["summary"]
    b, lat, rec = s.get("bookings", {}), s.get("latency_ms", {}), s.get("reconciliation", {})
    score = rec.get("score") or {}
    cards = [("attempted", fmt_num(b.get("attempted"))), ("accepted", fmt_num(b.get("accepted"))),
             ("confirmed at GP", fmt_num(b.get("confirmed_at_gp"))), ("refused", fmt_num(b.get("refused"))),
             ("unavailable", fmt_num(b.get("unavailable"))), ("errors", fmt_num(b.get("errors"))),
             ("parties disagree", fmt_num(rec.get("disagreeing"))),
             ("end-to-end error rate", fmt_rate(rec.get("error_rate"))),
             ("p50 latency", fmt_ms(lat.get("p50"))), ("p90 latency", fmt_ms(lat.get("p90"))),
             ("p99 latency", fmt_ms(lat.get("p99"))), ("max latency", fmt_ms(lat.get("max"))),
             ("duration", f"{fmt_num(s.get('duration_s'))} s"), ("bookings/s", fmt_num(s.get("bookings_per_s"))),
             ("journal entries", fmt_num(s.get("journal_entries")))]
    if score:
        cards += [("precision vs journal", fmt_num(score.get("precision"))),
                  ("recall vs journal", fmt_num(score.get("recall")))]
    out = ['<div class="cards">']
    out += [f'<div class="card"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>' for k, v in cards]
    out.append("</div>")
    links = doc.get("links") or {}
    if links:
        rows = [(link, e["attempts"], e["failed"], fmt_rate(e["rate"]),
                 "; ".join(f"{ev} {v['failed']}/{v['attempts']}" for ev, v in e.get("events", {}).items()))
                for link, e in links.items()]
        out.append(table(("link", "attempts", "failed", "error rate", "failed/attempts by event"), rows,
                         cls="sortable links", caption="delivery per link (from the journal)", numeric=(1, 2, 3),
                         row_cls=lambda i: "bad" if rows[i][2] else ""))
    return section("summary", f"Summary: {MEASURED}", out)


# What the combined line of a family stands for, in its legend.
ALL_OF = {"broker->pas:*": "all trusts", "broker->gp:*": "all practices", "gp:*->broker": "all practices"}


def _overall(series: dict) -> str:
    tried, failed = sum(series["attempts"]), sum(series["failed"])
    return f"{fmt_rate(failed / tried if tried else None)} of {tried:,}"


def _family_plots(family: str, fam: dict, links: dict, edges: list[float]) -> list[str]:
    """One plot per event that failed anywhere in the family (a trust link's slot searches never fail
    and would halve its booking messages' rate), else one for all its traffic."""
    failing = [ev for ev, series in fam["events"].items() if sum(series["failed"])]
    charts = [(ev, fam["events"][ev], {link: links[link]["events"].get(ev) for link in fam["links"]})
              for ev in failing] or [("*", fam["all"], {link: links[link] for link in fam["links"]})]
    out = []
    for event, combined, members in charts:
        lines = [Line(series["smoothed"], f"{link.rpartition(':')[2] if ':' in link else link}: {_overall(series)}",
                      {"link": link, "event": event})
                 for link, series in members.items() if series is not None]
        if len(lines) > 1:
            lines.append(Line(combined["smoothed"], f"{ALL_OF.get(family, 'all links')}: {_overall(combined)}",
                              {"family": family, "event": event}, combined=True))
        title = f"{family} · {event if event != '*' else 'every event'}"
        out.append(f"<figure>{line_plot(title, edges, lines)}</figure>")
    return out


def error_rate_section(doc: dict) -> str:
    ts = doc["error_rate_series"]
    title = "Error rate over time, per link"
    if not ts["links"]:
        return section("error-rates", title, ["<p>The journal holds no timed delivery attempt.</p>"])
    n = len(ts["edges"]) - 1
    need = ts.get("smooth_attempts")
    out = [f"<p>Failed deliveries over attempts, on {n} equal time bucket{'s' if n != 1 else ''} of the "
           "journal's clock (<code>elapsed_s</code>). Each point pools the buckets around its own until they "
           f"hold at least {need} attempts, so a link with a message or two per bucket does not jump between 0% "
           "and 100%; the thick dark line combines every link of the family, and each legend gives the "
           "whole run's rate. A plot per event that failed; a dot is a bucket with attempts on that link. "
           "The unsmoothed buckets are in <code>report.json</code>.</p>"]
    for family, fam in ts["families"].items():
        out += _family_plots(family, fam, ts["links"], ts["edges"])
    if ts.get("untimed_attempts"):
        out.append(f"<p>{ts['untimed_attempts']} attempts carry no elapsed time and are left out.</p>")
    return section("error-rates", title, out)


def discrepancy_section(doc: dict) -> str:
    d = doc["discrepancies"]
    out = [f"<p>{fmt_num(d.get('disagreeing'))} of {fmt_num(d.get('attempted'))} bookings disagree "
           f"({fmt_rate(d.get('error_rate'))}); {fmt_num(d['total'])} discrepancies in all.</p>",
           f"<figure>{bar_chart(d['counts'])}</figure>",
           table(("kind", "count", "meaning"), [(k, n, d["descriptions"].get(k, "")) for k, n in d["counts"].items()],
                 cls="sortable discrepancies", numeric=(1,))]
    return section("discrepancies", "Discrepancies by kind", out)


def _view_brief(views: dict | None, party: str, field: str) -> str:
    v = (views or {}).get(party)
    if isinstance(v, list):
        v = v[0] if v else None
    return (v or {}).get(field) or "–"


def _trust_hop(hops: list[dict]) -> str:
    """What became of the booking on its way to the trust: the last attempt on a broker->pas link."""
    to_pas = [h for h in hops
              if (h.get("link") or "").startswith("broker->pas") and h.get("event") == "booking-request"]
    if not to_pas:
        return "not sent"
    h = to_pas[-1]
    retry = f" (try {h['attempt']})" if (h.get("attempt") or 1) > 1 else ""
    return f"{h.get('decision')} → {h.get('outcome')}{retry}"


def lost_section(doc: dict) -> str:
    lost = doc["lost"]
    if not lost["total"]:
        return section("lost", "Lost bookings", ["<p>None: every party agrees on every booking.</p>"])
    shown = lost["bookings"]
    note = (f"Showing the first {len(shown):,} of {lost['total']:,} (missing at the trust first); "
            "reconciliation.json holds them all." if lost["total"] > len(shown)
            else f"{lost['total']:,} bookings the parties disagree on, missing at the trust first.")
    out = [f'<p class="note">{esc(note)} Each UBRN links to its trace below.</p>']
    rows = [(Raw(f'<a href="#{esc(quote(anchor(r["ubrn"])))}">{esc(r["ubrn"])}</a>'), ", ".join(r["kinds"]),
             _view_brief(r.get("views"), "broker", "trust"), _view_brief(r.get("views"), "broker", "practice"),
             _view_brief(r.get("views"), "broker", "slot"), _trust_hop(r["hops"]), len(r["hops"]))
            for r in shown]
    out.append(table(("UBRN", "kinds", "trust", "practice", "slot", "to the trust", "hops"), rows,
                     cls="sortable lost", numeric=(6,)))
    return section("lost", "Lost bookings", out)


def _views_table(views: dict | None) -> str:
    if not views:
        return ""
    rows = []
    for party in ("broker", "pas", "spine", "gp"):
        v = views.get(party)
        records = v if isinstance(v, list) else [v]
        for rec in records or [None]:
            rec = rec or {}
            rows.append((party, rec.get("status") or "absent", rec.get("slot"), rec.get("start"),
                         rec.get("trust"), rec.get("practice")))
    return table(("party", "status", "slot", "start", "trust", "practice"), rows, cls="views",
                 caption="each party's final view", row_cls=lambda i: "bad" if rows[i][1] == "absent" else "")


def trace_section(doc: dict) -> str:
    shown = doc["lost"]["bookings"]
    if not shown:
        return ""
    out = []
    for r in shown:
        hops = r["hops"]
        out.append(f'<article class="trace" id="{esc(anchor(r["ubrn"]))}"><h3>UBRN {esc(r["ubrn"])}</h3>')
        out.append("<ul>" + "".join(f"<li>{esc(d)}</li>" for d in r.get("details") or [] if d) + "</ul>")
        booking = r.get("booking")
        if booking:
            out.append(f"<p>Booked by practice {esc(booking.get('practice'))} for service "
                       f"{esc(booking.get('service'))}: the GP system was answered "
                       f"<b>{esc(booking.get('outcome'))}</b> in {esc(fmt_ms(booking.get('latency_ms')))}.</p>")
        if hops:
            rows = [(h.get("seq"), fmt_num(h.get("elapsed_s"), 4), h.get("link"), h.get("event"), h.get("decision"),
                     h.get("rule_id") or "", h.get("outcome"), h.get("status") or "", fmt_num(h.get("latency_ms")),
                     h.get("attempt"), h.get("purpose")) for h in hops]
            out.append(table(("seq", "elapsed s", "link", "event", "decision", "rule", "outcome", "status",
                              "latency ms", "try", "purpose"), rows, cls="hops", caption="hops (journal)",
                             numeric=(0, 1, 7, 8, 9),
                             row_cls=lambda i, hops=hops: "" if hops[i].get("delivered") else "bad"))
        else:
            out.append("<p>The journal holds no message naming this UBRN.</p>")
        for lost in r.get("lost_in_restarts") or []:
            # Where a memory queue's message ends: no journal entry records it, the restart does.
            out.append(f'<p class="restart"><b>Lost in the middleware\'s restart #{esc(lost.get("restart"))}</b> at '
                       f'{esc(lost.get("at"))} ({esc(lost.get("reason"))}; {esc(lost.get("queue"))} queue): its '
                       f'{esc(lost.get("event"))} (control id {esc(lost.get("control_id"))}) was still queued.</p>')
        out.append(_views_table(r.get("views")))
        out.append('<p><a href="#lost">back to the lost bookings</a></p></article>')
    return section("traces", "Traces of the lost bookings", out)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2328;margin:0;background:#f4f6f8}
header{background:#005eb8;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.9}nav a{color:#fff;margin-right:14px}
main{max-width:1100px;margin:0 auto;padding:8px 28px 40px}
section{background:#fff;border-radius:6px;padding:6px 20px 16px;margin:18px 0;box-shadow:0 1px 2px #0002}
h2{font-size:18px;border-bottom:2px solid #e8edee;padding-bottom:4px}h3{font-size:15px}
table{border-collapse:collapse;margin:10px 0;font-size:13px}caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #e1e5e8;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#eef2f5}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer}tr.bad td{background:#fdecea}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}.facts dt{color:#4c6272}.facts dd{margin:0}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #d8dde0;border-radius:6px;padding:8px 12px;min-width:120px}
.card .v{font-size:20px;font-weight:600}.card .k{color:#4c6272;font-size:12px}
th.configured{background:#e8f1fa}th.measured{background:#fdf3e1}
.ok{color:#007f3b}.bad,.missed{color:#d5281b}.note{color:#4c6272}
figure{margin:10px 0}svg text{font:11px system-ui,sans-serif;fill:#1d2328}svg .title{font-weight:600;font-size:13px}
svg .label{font-size:12px;fill:#4c6272}svg .grid{stroke:#e8edee}svg .axis{stroke:#768692}
svg .bar{fill:#005eb8}article.trace{border-top:1px solid #d8dde0;padding-top:4px}
article.trace:target{background:#fff9c4}
"""

SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, _){th.addEventListener('click', function(){
 var t=th.closest('table'), i=Array.prototype.indexOf.call(th.parentNode.children, th), b=t.tBodies[0];
 var asc=th.dataset.dir!=='asc'; th.dataset.dir=asc?'asc':'desc';
 var key=function(r){var s=r.children[i].textContent.replace(/[%,]/g,''), n=parseFloat(s); return isNaN(n)?s:n;};
 Array.prototype.slice.call(b.rows).sort(function(p,q){var a=key(p),c=key(q);
  return (a<c?-1:a>c?1:0)*(asc?1:-1);}).forEach(function(r){b.appendChild(r);});});});
"""


def render_html(doc: dict) -> str:
    name = doc["scenario"].get("name") or "run"
    parts = [scenario_section(doc), inputs_section(doc), summary_section(doc), error_rate_section(doc), discrepancy_section(doc),
             lost_section(doc), trace_section(doc)]
    nav = "".join(f'<a href="#{sid}">{label}</a>' for sid, label in (
        ("scenario", "scenario"), ("inputs", "configured vs measured"), ("summary", "summary"), ("error-rates", "error rates"),
        ("discrepancies", "discrepancies"), ("lost", "lost bookings")))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>testbed report: {esc(name)} ({esc(doc['run'])})</title><style>{CSS}</style></head><body>"
            f"<header><h1>Run report: {esc(name)}</h1><p>run folder {esc(doc['run'])}</p><nav>{nav}</nav></header>"
            f"<main>{''.join(parts)}</main><script>{SORT_JS}</script></body></html>\n")


def write_report(folder: Path) -> Path:
    """Writes report.json and report.html into a run folder; returns the page's path.

    Raises harness.report.data.ReportError for a folder that is not a run folder.
    """
    doc = build_report(folder)
    write_json(folder / "report.json", doc)
    page = folder / "report.html"
    page.write_text(render_html(doc), encoding="utf-8")
    return page
