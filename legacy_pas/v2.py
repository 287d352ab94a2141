"""The HL7 v2.4 profile the legacy PAS speaks (docs/legacy-pas.md, "The v2 profile"): reading fields
of a parsed message, the errors it answers with, and building the ER7 text of its answers.

Messages are parsed by the `hl7` library; this module only names fields and writes segments, with
the library's escaping, so a value holding a separator cannot break a segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import hl7

VERSION = "2.4"
PROCESSING_ID = "P"
ENCODING_CHARACTERS = "^~\\&"
# MSH-3 of every message the PAS sends.
APPLICATION = "LEGACY_PAS"

# HL7 table 0357, the error codes an ERR segment gives.
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION_ID = "203"
UNKNOWN_KEY_IDENTIFIER = "204"
DUPLICATE_KEY_IDENTIFIER = "205"
APPLICATION_INTERNAL_ERROR = "207"
ERROR_TEXT = {
    REQUIRED_FIELD_MISSING: "Required field missing", DATA_TYPE_ERROR: "Data type error",
    TABLE_VALUE_NOT_FOUND: "Table value not found", UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT_CODE: "Unsupported event code", UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    UNSUPPORTED_VERSION_ID: "Unsupported version id", UNKNOWN_KEY_IDENTIFIER: "Unknown key identifier",
    DUPLICATE_KEY_IDENTIFIER: "Duplicate key identifier", APPLICATION_INTERNAL_ERROR: "Application internal error",
}

# YYYYMMDDHHMM[SS][+ZZZZ]: the profile writes seconds and a zone; a time without a zone is read as UTC.
_TIME = re.compile(r"^\d{12}(\d{2})?([+-]\d{4})?$")
# A template for writing a segment with the library's escaping (any parsed message will do).
_ESCAPER = hl7.parse(f"MSH|{ENCODING_CHARACTERS}|{APPLICATION}")


@dataclass
class V2Error(Exception):
    """A message the PAS answers with `AE` (understood, refused) or `AR` (not processed); `where` is
    the field at fault as ERR-1 gives it: (segment, field position)."""

    ack_code: str
    error_code: str
    text: str
    where: tuple[str, int] | None = None

    def __str__(self) -> str:
        return self.text


def rejected(error_code: str, text: str, where: tuple[str, int] | None = None) -> V2Error:
    """`AR`: the message is malformed, of an unknown type or version; nothing was done."""
    return V2Error("AR", error_code, text, where)


def refused(error_code: str, text: str, where: tuple[str, int] | None = None) -> V2Error:
    """`AE`: the message was understood and refused (a slot taken, an appointment unknown)."""
    return V2Error("AE", error_code, text, where)


class Fields:
    """Fields of a parsed message by position, unescaped; absent segments and fields read as ""."""

    def __init__(self, message: hl7.Message):
        self.message = message

    def get(self, segment: str, position: int, component: int = 1, repetition: int = 1,
            subcomponent: int = 1, occurrence: int = 1) -> str:
        """Of the `occurrence`-th segment of that name (the first by default)."""
        try:
            return str(self.message.extract_field(segment, occurrence, position, repetition, component,
                                                  subcomponent))
        except (KeyError, IndexError):
            return ""

    def count(self, segment: str) -> int:
        """How many segments of that name the message has."""
        return sum(1 for s in self.message if str(s[0]) == segment)

    def repetitions(self, segment: str, position: int) -> int:
        """How many repetitions a field has (0 when the segment or field is absent)."""
        try:
            seg = self.message.segment(segment)
        except KeyError:
            return 0
        if position >= len(seg) or not str(seg[position]):
            return 0
        return len(seg[position])

    def required(self, segment: str, position: int, what: str, component: int = 1, limit: int = 64) -> str:
        """A field the message must give, at most `limit` characters, else AR naming it."""
        value = self.get(segment, position, component).strip()
        if not value:
            raise rejected(REQUIRED_FIELD_MISSING, f"{segment}-{position} ({what}) is required", (segment, position))
        if len(value) > limit:
            raise rejected(DATA_TYPE_ERROR, f"{segment}-{position} ({what}) is longer than {limit} characters",
                           (segment, position))
        return value


def parse_time(value: str, segment: str, position: int) -> datetime:
    """A v2 time of whole minutes (`YYYYMMDDHHMM[SS][+ZZZZ]`) in UTC; AR naming the field otherwise."""
    error = rejected(DATA_TYPE_ERROR, f"{segment}-{position} {value[:30]!r} is not a time YYYYMMDDHHMMSS+ZZZZ",
                     (segment, position))
    if not _TIME.match(value):
        raise error
    try:
        parsed = hl7.parse_datetime(value)
    except ValueError:
        raise error from None
    if parsed is None:
        raise error
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S+0000")


def segment(name: str, *fields: str | list[str]) -> str:
    """One ER7 segment; a field given as a list is its components. Values are escaped."""
    out = [name]
    for f in fields:
        parts = f if isinstance(f, list) else [f]
        out.append("^".join(_ESCAPER.escape(p) for p in parts))
    return "|".join(out)


@dataclass
class Header:
    """What the PAS reads of MSH to answer a message."""

    control_id: str = ""
    sending_application: str = ""
    sending_facility: str = ""
    message_type: str = ""
    trigger: str = ""


@dataclass
class Reply:
    """What a handler answers: MSA-1 and its text, and (for a query) the segments after MSA."""

    ack_code: str = "AA"
    text: str = ""
    segments: list[str] = field(default_factory=list)
    # The answer's MSH-9 (type^trigger^structure); an ACK unless a query answers with its response.
    message_type: list[str] | None = None


def answer(header: Header, facility: str, control_id: str, at: datetime, reply: Reply,
           error: V2Error | None = None) -> str:
    """The ER7 text of the answer to `header`'s message: MSH, MSA, ERR when refused, then the reply's segments."""
    kind = reply.message_type or ["ACK", header.trigger, "ACK"]
    lines = [
        # MSH-2 is written as is: segment() would escape the encoding characters themselves.
        f"MSH|{ENCODING_CHARACTERS}|" + segment("", APPLICATION, facility, header.sending_application,
                                                header.sending_facility, format_time(at), "", kind, control_id,
                                                PROCESSING_ID, VERSION)[1:],
        segment("MSA", reply.ack_code, header.control_id, reply.text[:80]),
    ]
    if error is not None:
        seg, position = error.where or ("", 0)
        code = f"{error.error_code}&{_ESCAPER.escape(ERROR_TEXT.get(error.error_code, ''))}&HL70357"
        # ERR-1 (v2.4, ELD): segment^sequence^field position^code&text&table; the code is already escaped.
        lines.append("ERR|" + "^".join([_ESCAPER.escape(seg), "1" if seg else "",
                                        str(position) if position else "", code]))
    lines.extend(reply.segments)
    # Answers are ASCII, which every reader decodes (hl7.mllp's default): anything else echoed back
    # from a message is written `?`.
    return "\r".join(lines).encode("ascii", "replace").decode("ascii")


def error_reply(error: V2Error) -> Reply:
    return Reply(error.ack_code, error.text)
