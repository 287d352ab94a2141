"""Injected versus emergent: what a run was told to do (its configured inputs) apart from what came of
it (its measured outcome), so that nobody reads an input back as a finding.

A rule that drops 57 of every 100 booking messages makes 57% of those messages fail: that 57% is the
rule, not something the run found. Every output of a run (the summary `testbed run` prints and
writes, `--json`, report.json and report.html) shows the two apart:

- `configured` ("configured (input)"): each fault rule in force on the broker (its link glob, event,
  action, plan: probability, exact `nth`/`every`, window, outage period and duty, parameters), the
  share of its matching messages the plan is expected to affect, and the receivers' behaviours the
  scenario set (a site's share of 503 answers, its delay, deduplication; a legacy trust's middleware
  and PAS settings);
- `measured` ("measured (outcome)"): per rule, how many of the run's delivery attempts it matched,
  fired on and failed, and whether the failure rate measured on those messages is the rule's input
  (every failure among them was the rule's own doing); the end-to-end error rate; per link the
  failure rate; and the lost bookings by cause: an injected rule, a receiver's own failure (which a
  configured site behaviour may be), or no failed hop at all (emergent: timing, ordering).

Attempts and failures are counted as harness.run.error_rates counts them. A lost booking's cause is
its first failed hop in the journal; a booking whose message failed and was then delivered on a retry
still counts its failure's cause, which under reliable delivery is rarely what lost it.
"""

from __future__ import annotations

from collections import Counter

from pydantic import ValidationError

from party_common.fault_rules import FaultRule
from party_common.trust_catalogue import DEFAULT_TRUSTS
from harness.run.error_rates import delivery_failed

CONFIGURED = "configured (input)"
MEASURED = "measured (outcome)"
# Actions that make the delivery fail; the others (delay, duplicate, reorder, lose-ack) deliver it.
FAILING_ACTIONS = frozenset({"drop", "error", "timeout", "corrupt", "outage"})
NO_RULE = "receiver failure (no rule)"
NO_FAILED_HOP = "no failed hop (emergent)"
# A site's messages travel on its trust's link: the journal knows the trust, not the site.
SITE_TRUST = {site["code"]: t["ods"] for t in DEFAULT_TRUSTS for site in t["sites"]}


def rule_ids(rules: list[dict]) -> list[str]:
    """The ids the broker's fault engine gives the rules of a fresh plan: their own, else r1, r2..."""
    out, n = [], 0
    for rule in rules:
        if rule.get("id"):
            out.append(rule["id"])
        else:
            n += 1
            out.append(f"r{n}")
    return out


def plan_text(rule: dict) -> str:
    """When a rule fires, in words: `probability 0.35`, `57 of every 100`, `messages 1, 3`, `from 0 s to 60 s`."""
    parts = []
    if rule.get("probability") is not None:
        parts.append(f"probability {rule['probability']:g}")
    if rule.get("nth"):
        parts.append("messages " + ", ".join(str(n) for n in rule["nth"]))
    if rule.get("every"):
        parts.append(f"{rule['every'].get('k')} of every {rule['every'].get('n')}")
    params = rule.get("params") or {}
    if rule.get("action") == "outage" and params.get("period_s"):
        parts.append(f"down {params.get('duty', 0.5):g} of every {params['period_s']:g} s")
    if rule.get("window"):
        w = rule["window"]
        parts.append(f"from {w.get('from', 0)} s" + (f" to {w['to']} s" if w.get("to") is not None else ""))
    return "; ".join(parts) or "every message"


def planned_share(rule: dict) -> tuple[float | None, str]:
    """(share of its matching messages the plan is expected to affect, how the plan sets it).

    None for an `nth` plan, which names messages rather than a share. A window narrows any plan to
    the messages in it; the share is of those.
    """
    params = rule.get("params") or {}
    if rule.get("probability") is not None:
        return float(rule["probability"]), "drawn per message"
    if rule.get("every"):
        k, n = rule["every"].get("k", 0), rule["every"].get("n", 1)
        return round(k / n, 6), "exact"
    if rule.get("nth"):
        return None, "exact"
    if rule.get("action") == "outage" and params.get("period_s"):
        return float(params.get("duty", 0.5)), "share of time down"
    return 1.0, "every matching message"


def _matcher(rule: dict) -> FaultRule | None:
    try:
        return FaultRule.model_validate({k: v for k, v in rule.items() if k != "params"} | (rule.get("params") or {}))
    except ValidationError:
        return None  # a rule this version cannot read (an older folder): shown, not measured


def configured_inputs(rules: list[dict], scenario: dict) -> dict:
    """The `configured` section: the rules in force and the receivers' behaviours the scenario set."""
    out_rules = []
    for rid, rule in zip(rule_ids(rules), rules):
        share, basis = planned_share(rule)
        # A rule on the middleware's links is the middleware's engine's, numbered by it: shown as
        # `middleware:r1`, and measured on the middleware's journal only.
        party = rule.get("party") or "broker"
        engine_id = rid.split(":", 1)[1] if party != "broker" and rid.startswith(f"{party}:") else rid
        out_rules.append({
            "id": rid if party == "broker" else f"{party}:{engine_id}", "party": party, "engine_id": engine_id,
            "link": rule.get("link"), "event": rule.get("event"), "action": rule.get("action"),
            "plan": plan_text(rule), "share": share, "basis": basis,
            **{k: rule[k] for k in ("probability", "every", "nth", "window") if rule.get(k) is not None},
            "params": rule.get("params") or {},
            "fails_delivery": rule.get("action") in FAILING_ACTIONS})
    receivers = scenario.get("receivers") or {}
    sites = {code: {"unavailable": b.get("unavailable", 0.0), "delay_ms": b.get("delay_ms", 0),
                    "link": f"broker->pas:{SITE_TRUST.get(code, '?')}"}
             for code, b in sorted((receivers.get("sites") or {}).items())}
    out = {"label": CONFIGURED, "delivery": scenario.get("delivery"),
           "receivers": {"dedupe": receivers.get("dedupe", True), "sites": sites},
           "rules": out_rules}
    if scenario.get("legacy"):
        # The middleware's and legacy PAS's behaviours (queue, spine look-up, crash, ACK timeouts) are
        # settings the scenario chose: inputs, whatever losses they come to.
        out["legacy"] = scenario["legacy"]
    return out


def _rule_measure(rule: dict, matcher: FaultRule | None, attempts: list[tuple[dict, bool]], total: int) -> dict:
    rid = rule.get("engine_id") or rule["id"]
    party = rule.get("party") or "broker"
    matched = [(e, f) for e, f in attempts if (e.get("journal") or "broker") == party
               and matcher is not None and matcher.matches(e.get("link") or "", e.get("event") or "")]
    n = len(matched)
    fired = sum(e.get("rule_id") == rid for e, _ in matched)
    failed = sum(f for _, f in matched)
    by_rule = sum(f for e, f in matched if e.get("rule_id") == rid)
    share = rule["share"] if rule["share"] is not None else (len(rule["nth"] or []) / n if n else None)
    # The failure rate on these messages repeats the rule's plan when the rule made every failure
    # among them: then it is the input, read back.
    is_input = bool(rule["fails_delivery"] and failed and by_rule == failed)
    return {"id": rule["id"], "matched": n, "share_of_run": round(n / total, 6) if total else 0.0,
            "expected_fired": round(share * n, 2) if share is not None else None,
            "fired": fired, "fired_share": round(fired / n, 6) if n else None,
            "failed": failed, "failed_by_rule": by_rule, "failure_rate": round(failed / n, 6) if n else None,
            "rate_is_input": is_input, "note": _note(rule, n, fired, failed, by_rule, is_input)}


def _note(rule: dict, n: int, fired: int, failed: int, by_rule: int, is_input: bool) -> str:
    if not n:
        return "matched no message in this run"
    if not rule["fails_delivery"]:
        return f"{rule['action']} delivers the message: any failure on these messages is not this rule's"
    if is_input:
        how = {"exact": "exactly as planned", "drawn per message": "a sample of the configured probability",
               "share of time down": "from the configured down time and when messages came"}.get(rule["basis"], "")
        return f"input, not a finding: every failure here is rule {rule['id']}'s ({how})".replace(" ()", "")
    if failed:
        return f"{failed - by_rule} of {failed} failures here are not this rule's"
    return "no failure here"


def lost_by_cause(discrepancies: list[dict], journal: list[dict]) -> dict[str, int]:
    """Disagreeing bookings by the cause of their first failed hop: `rule r1 (drop)`, a receiver's
    own failure, or none (the parties disagree with no failed delivery: timing, ordering)."""
    first: dict[str, str] = {}
    # The broker's journal first, then the middleware's (tagged `journal`): each numbers its own entries.
    for e in sorted(journal, key=lambda e: (e.get("journal") is not None, e.get("seq") or 0)):
        ubrn = e.get("ubrn")
        if not ubrn or ubrn in first or not delivery_failed(e):
            continue
        rule = f"{e['journal']}:{e['rule_id']}" if e.get("journal") else e.get("rule_id")
        first[ubrn] = f"rule {rule} ({e.get('decision')})" if e.get("rule_id") else NO_RULE
    lost = {d["ubrn"] for d in discrepancies if d.get("ubrn")}
    return dict(Counter(first.get(u, NO_FAILED_HOP) for u in sorted(lost)).most_common())


def measured_outcome(configured: dict, journal: list[dict], reconciliation: dict, links: dict) -> dict:
    """The `measured` section, from the run's journal, its reconciliation (reconciliation.json) and
    its per-link rates (harness.run.error_rates.link_rates)."""
    attempts = [(e, bool(f)) for e in journal if (f := delivery_failed(e)) is not None]
    rules = [_rule_measure(r, _matcher(r), attempts, len(attempts)) for r in configured["rules"]]
    causes = lost_by_cause(reconciliation.get("discrepancies") or [], journal)
    return {"label": MEASURED,
            "end_to_end": {k: reconciliation.get(k) for k in ("error_rate", "disagreeing", "attempted")},
            "lost_by_cause": causes,
            "end_to_end_note": _end_to_end_note(causes, configured, rules),
            "links": {link: {k: e[k] for k in ("attempts", "failed", "rate")} for link, e in links.items()},
            "rules": rules}


def _end_to_end_note(causes: dict[str, int], configured: dict, rules: list[dict]) -> str:
    total = sum(causes.values())
    if not total:
        return "no booking lost"
    injected = sum(n for cause, n in causes.items() if cause.startswith("rule "))
    if injected == total:
        inputs = [r["id"] for r in rules if r["rate_is_input"]]
        return (f"every lost booking was lost to an injected fault rule ({', '.join(inputs) or 'see causes'}): "
                "the end-to-end rate is the configured plan carried through, an input, not a finding")
    sites = [code for code, b in configured["receivers"]["sites"].items() if b["unavailable"]]
    parts = [f"{injected} of {total} lost bookings to injected fault rules"] if injected else []
    if causes.get(NO_RULE):
        why = (f" (the scenario configures site(s) {', '.join(sites)} to answer 503: an input)" if sites else "")
        parts.append(f"{causes[NO_RULE]} to a receiver's own failure{why}")
    if causes.get(NO_FAILED_HOP):
        parts.append(f"{causes[NO_FAILED_HOP]} with no failed delivery (emergent)")
    return "; ".join(parts)


RULE_FIELDS = ("id", "party", "link", "event", "action", "probability", "nth", "every", "window", "params")


def rules_of_run(summary: dict, scenario: dict) -> list[dict]:
    """A run folder's rules in force: as its summary recorded them from the broker, else (a folder
    from before summaries kept them) the scenario's plan, numbered as the broker numbers a fresh one."""
    recorded = (summary.get("configured") or {}).get("rules")
    if isinstance(recorded, list):
        return [{k: r[k] for k in RULE_FIELDS if r.get(k) is not None} for r in recorded if isinstance(r, dict)]
    faults = [f for f in scenario.get("faults") or [] if isinstance(f, dict)]
    return [{**f, "id": rid} for rid, f in zip(rule_ids(faults), faults)]


def inputs_and_outcomes(rules: list[dict], scenario: dict, journal: list[dict], reconciliation: dict,
                        links: dict) -> dict:
    """{"configured": ..., "measured": ...}: the two sections every output of a run carries."""
    configured = configured_inputs(rules, scenario)
    return {"configured": configured, "measured": measured_outcome(configured, journal, reconciliation, links)}
