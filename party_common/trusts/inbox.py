"""The shared inbox, scoped to one trust (the FHIR PAS hosts several; the middleware stands for several).

One process hosts several trusts, but in the world it models each trust runs its own PAS with its own
message store: dedupe must not answer a message to RT2 with what RT1 said to the same Bundle.id.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.database import table_of
from party_common.inbox import Inbox
from party_common.messaging import Message


class TrustInbox(Inbox):
    def __init__(self, ods: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ods = ods
        records = table_of(self.record_model)
        # Built once, run per message; a NULL header id matches nothing, as no header id should. The
        # trust is repeated in each alternative so that each is one index lookup: written once,
        # outside the OR, it is the term SQLite picks, and every message walked all of that trust's.
        self._lookup = select(records.c.status_code, records.c.response, records.c.digest).where(or_(
            and_(records.c.ods == bindparam("ods"), records.c.bundle_id == bindparam("bundle_id")),
            and_(records.c.ods == bindparam("ods"), records.c.header_id == bindparam("header_id")),
        )).limit(1)

    async def _stored(self, session: AsyncSession, msg: Message):
        """The stored answer (a row with status_code and response) to this message, if any."""
        params = {"ods": self.ods, "bundle_id": msg.bundle_id, "header_id": msg.header_id}
        return (await session.execute(self._lookup, params)).first()

    def _record_values(self, msg: Message, status: int, response: str) -> dict:
        return {**super()._record_values(msg, status, response), "ods": self.ods}
