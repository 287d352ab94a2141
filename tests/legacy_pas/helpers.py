"""The legacy PAS under test: one small trust, its MLLP listener on a port the system picks, and
v2 messages built as the middleware sends them (docs/legacy-pas.md, "The v2 profile")."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import hl7
import httpx
from hl7.mllp import open_hl7_connection

from legacy_pas.app import create_app
from legacy_pas.settings import Settings
from tests.inprocess import client_for

ODS = "RT9"
SERVICE = "rt9-rt901-cardiology"
# Mondays and Tuesdays 09:00-10:00 in 15-minute slots, from Monday 4 January 2027.
TRUST = {"ods": ODS, "name": "Legacy Test Trust", "size": "small",
         "sessions": [{"days": ["mon", "tue"], "start": "09:00", "end": "10:00", "slot_minutes": 15}],
         "sites": [{"code": "RT901", "name": "Old Site", "specialties": ["cardiology"]}]}
FIRST_SLOT = f"{SERVICE}-202701040900"
SECOND_SLOT = f"{SERVICE}-202701040915"
NHS_NUMBER = "9990000018"
# Only a guard against a hang: nothing here measures how long an answer takes.
ANSWER_TIMEOUT_S = 30


def settings(db_url: str, **overrides) -> Settings:
    return Settings(database_url=db_url, trusts=[TRUST], mllp_ports={ODS: 0}, **overrides)


@asynccontextmanager
async def legacy_pas(db_url: str, **overrides):
    """(app, HTTP client, MLLP port) of a running legacy PAS."""
    app = create_app(settings(db_url, **overrides))
    async with client_for(app) as client:
        yield app, client, app.state.mllp.ports[ODS]


def msh(kind: str, control_id: str, version: str = "2.4") -> str:
    return f"MSH|^~\\&|MIDDLEWARE|{ODS}|LEGACY_PAS|{ODS}|20061010101010+0000||{kind}|{control_id}|P|{version}"


def s12(control_id: str, ubrn: str, slot_id: str = FIRST_SLOT, service: str = SERVICE,
        nhs_number: str = NHS_NUMBER) -> str:
    return "\r".join([
        msh("SIU^S12^SIU_S12", control_id),
        f"SCH|{ubrn}||||||||||^^15^20270104090000+0000^20270104091500+0000" if slot_id == FIRST_SLOT
        else f"SCH|{ubrn}",
        f"PID|||{nhs_number}^^^NHS^NH||Testpatient^Alex",
        f"AIS|1||{service}",
        f"AIL|1||{slot_id}",
    ])


def s15(control_id: str, ubrn: str) -> str:
    return "\r".join([msh("SIU^S15^SIU_S12", control_id), f"SCH|{ubrn}"])


def s25(control_id: str, count: int = 3, start: str = "20270104000000+0000",
        end: str = "20270111000000+0000") -> str:
    return "\r".join([
        msh("SQM^S25^SQM_S25", control_id),
        f"QRD|20061010101010+0000|R|I|Q-{control_id}|||{count}^RD",
        f"ARQ|||||||||||^^^{start}^{end}",
        f"AIS|1||{SERVICE}",
    ])


def i12(control_id: str, referral_id: str, *, service_in_prd: bool = False) -> str:
    """The service referred to as RF1-3, or (`service_in_prd`) as the PRD-7 of a PRD of role RT."""
    return "\r".join([
        msh("REF^I12^REF_I12", control_id),
        f"RF1|A||{'' if service_in_prd else SERVICE}|||{referral_id}",
        *([f"PRD|RT||||||{SERVICE}"] if service_in_prd else []),
        "PRD|RP|Practice^Test|||||Y12345",
        f"PID|||{NHS_NUMBER}^^^NHS^NH||Testpatient^Alex",
    ])


@asynccontextmanager
async def connection(port: int):
    reader, writer = await open_hl7_connection("127.0.0.1", port, encoding="utf-8")
    try:
        yield reader, writer
    finally:
        writer.close()
        await writer.wait_closed()


async def send(reader, writer, text: str, *, raw: bool = False) -> hl7.Message:
    """Sends one message (or, `raw`, text that need not parse) and reads the answer."""
    if raw:
        writer.writeblock(text.encode())
    else:
        writer.writemessage(hl7.parse(text))
    await writer.drain()
    return await asyncio.wait_for(reader.readmessage(), ANSWER_TIMEOUT_S)


async def exchange(port: int, text: str, *, raw: bool = False) -> hl7.Message:
    async with connection(port) as (reader, writer):
        return await send(reader, writer, text, raw=raw)


def ack(message: hl7.Message) -> tuple[str, str]:
    """(MSA-1, MSA-2)."""
    return str(message.extract_field("MSA", 1, 1, 1, 1)), str(message.extract_field("MSA", 1, 2, 1, 1))


def err_location(message: hl7.Message) -> str:
    """ERR-1 as segment^sequence^field, e.g. AIL^1^3."""
    return "^".join(str(message.extract_field("ERR", 1, 1, 1, c)) for c in (1, 2, 3))


def free_slot_ids(message: hl7.Message) -> list[str]:
    return [str(seg[3]) for seg in message if str(seg[0]) == "AIL"]


async def appointments(client: httpx.AsyncClient) -> list[dict]:
    r = await client.get("/extract/appointments", params={"format": "json"})
    assert r.status_code == 200, r.text
    return r.json()
