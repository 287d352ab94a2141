"""The HL7 v2.4 messages the middleware writes and reads (the profile in docs/legacy-pas.md).

Messages are ER7 text, segments ended by `\\r`; what goes into a field is escaped, so a name with a
`^` in it cannot shift the fields after it. Answers are parsed with `hl7.parse`. Framing is left to
`hl7.mllp` (middleware/mllp.py).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import hl7

from party_common.trusts.schedule import minute_to_datetime

SENDING_APP = "TESTBED-MW"
RECEIVING_APP = "LEGACY-PAS"
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("~", "\\R\\"), ("&", "\\T\\"))


def esc(value: str | None) -> str:
    out = value or ""
    for raw, escaped in _ESCAPES:
        out = out.replace(raw, escaped)
    # A segment ends at a carriage return: none may stand inside a field.
    return out.replace("\r", " ").replace("\n", " ")


def v2_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S+0000")


def minute_time(minute: int) -> str:
    return v2_time(minute_to_datetime(minute))


def parse_v2_time(value: str) -> datetime | None:
    """`YYYYMMDDHHMM[SS][+ZZZZ]` as an aware datetime; None when it is not one."""
    text = value.strip()
    zone = "+0000"
    if len(text) > 5 and text[-5] in "+-":
        text, zone = text[:-5], text[-5:]
    for fmt in ("%Y%m%d%H%M%S", "%Y%m%d%H%M"):
        try:
            return datetime.strptime(text + zone, fmt + "%z")
        except ValueError:
            continue
    return None


def segment(name: str, fields: dict[int, str]) -> str:
    """One segment with `fields` (1-based, already escaped or built of components) at their places."""
    width = max(fields, default=0)
    return "|".join([name, *(fields.get(i, "") for i in range(1, width + 1))])


def stable_control_id(*parts: str) -> str:
    """A control id that the same message always gets (so a resend, even after a restart, is known as one)."""
    return "MW" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:18].upper()


def fresh_control_id() -> str:
    return "MQ" + uuid.uuid4().hex[:18].upper()


def msh(ods: str, kind: str, control_id: str, at: datetime) -> str:
    # MSH-1 is the field separator itself, so MSH-2 is the first field after the name.
    return "|".join(["MSH", "^~\\&", SENDING_APP, esc(ods), RECEIVING_APP, esc(ods), v2_time(at), "", kind,
                     control_id, "P", "2.4"])


def pid(nhs_number: str, family: str | None = None, given: str | None = None) -> str:
    return segment("PID", {1: "1", 3: f"{esc(nhs_number)}^^^NHS^NH", 5: f"{esc(family)}^{esc(given)}"})


@dataclass
class Booking:
    ubrn: str
    nhs_number: str
    service_id: str
    slot_id: str
    start_minute: int
    end_minute: int
    family: str | None = None
    given: str | None = None


def siu_s12(ods: str, b: Booking, control_id: str, at: datetime) -> str:
    timing = f"^^{b.end_minute - b.start_minute}^{minute_time(b.start_minute)}^{minute_time(b.end_minute)}"
    return "\r".join([
        msh(ods, "SIU^S12^SIU_S12", control_id, at),
        segment("SCH", {1: esc(b.ubrn), 11: timing}),
        pid(b.nhs_number, b.family, b.given),
        segment("RGS", {1: "1"}),
        segment("AIS", {1: "1", 3: esc(b.service_id), 4: minute_time(b.start_minute)}),
        segment("AIL", {1: "1", 3: esc(b.slot_id)}),
    ]) + "\r"


def siu_s15(ods: str, ubrn: str, nhs_number: str, control_id: str, at: datetime) -> str:
    return "\r".join([
        msh(ods, "SIU^S15^SIU_S12", control_id, at),
        segment("SCH", {1: esc(ubrn)}),
        pid(nhs_number),
    ]) + "\r"


def ref_i12(ods: str, referral_id: str, nhs_number: str, gp_ods: str | None, service_id: str, control_id: str,
            at: datetime) -> str:
    return "\r".join([
        msh(ods, "REF^I12^REF_I12", control_id, at),
        segment("RF1", {1: "A", 6: esc(referral_id)}),
        # The referring practice, then the service referred to.
        segment("PRD", {1: "RP", 7: esc(gp_ods)}),
        segment("PRD", {1: "RT", 7: esc(service_id)}),
        pid(nhs_number),
    ]) + "\r"


def sqm_s25(ods: str, service_id: str, from_minute: int, to_minute: int, count: int, control_id: str,
            at: datetime) -> str:
    return "\r".join([
        msh(ods, "SQM^S25^SQM_S25", control_id, at),
        segment("QRD", {1: v2_time(at), 2: "R", 3: "I", 4: control_id, 7: f"{count}^RD", 8: "", 9: "APP"}),
        segment("ARQ", {11: f"^^^{minute_time(from_minute)}^{minute_time(to_minute)}"}),
        segment("AIS", {1: "1", 3: esc(service_id)}),
    ]) + "\r"


# -- reading the PAS's answers -----------------------------------------------------------------------

@dataclass
class Answer:
    code: str                  # MSA-1: AA, AE, AR
    control_id: str            # MSA-2: the control id answered
    error: str | None          # ERR / MSA-3, when refused
    message: hl7.Message


def _field(seg, index: int, component: int | None = None) -> str:
    try:
        value = seg[index]
        if component is not None:
            return str(value[0][component - 1]) if len(value) and len(value[0]) >= component else ""
        return str(value)
    except (IndexError, KeyError, TypeError):
        return ""


def read_answer(message: hl7.Message) -> Answer:
    """The MSA of an ACK or SQR; raises ValueError when there is none."""
    try:
        msa = message.segment("MSA")
    except KeyError:
        raise ValueError("the answer has no MSA segment") from None
    error = None
    try:
        error = str(message.segment("ERR"))
    except KeyError:
        error = _field(msa, 3) or None
    return Answer(_field(msa, 1), _field(msa, 2), error, message)


@dataclass
class FreeSlot:
    slot_id: str
    service_id: str
    start: datetime | None
    end: datetime | None


def read_hits(message: hl7.Message) -> int | None:
    """QAK-4, the hit count total of an SQR^S25 (how many slots are free from the query's start, not
    just those listed); None when the PAS gives none."""
    try:
        value = _field(message.segment("QAK"), 4).strip()
    except KeyError:
        return None
    return int(value) if value.isdigit() else None


def read_sqr(message: hl7.Message) -> list[FreeSlot]:
    """The free slots an SQR^S25 lists: per slot its SCH, then AIS and AIL (docs/legacy-pas.md)."""
    slots: list[FreeSlot] = []
    for seg in message:
        name = str(seg[0])
        if name == "SCH":
            timing = seg[11] if len(seg) > 11 else None
            start = end = None
            if timing is not None and len(timing) and len(timing[0]) >= 5:
                start, end = parse_v2_time(str(timing[0][3])), parse_v2_time(str(timing[0][4]))
            status = _field(seg, 25)
            slots.append(FreeSlot(_field(seg, 2), "", start, end))
            if status and status.upper() != "FREE":
                slots.pop()
        elif name == "AIS" and slots:
            slots[-1].service_id = _field(seg, 3)
            if slots[-1].start is None:
                slots[-1].start = parse_v2_time(_field(seg, 4))
        elif name == "AIL" and slots and _field(seg, 3):
            slots[-1].slot_id = _field(seg, 3)
    return [s for s in slots if s.slot_id]
