"""The shared inbox, scoped to one hosted trust.

One process hosts several trusts, but in the world it models each trust runs its own PAS with its own
message store: dedupe must not answer a message to RT2 with what RT1 said to the same Bundle.id.
"""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from party_common.inbox import Inbox
from party_common.messaging import Message


class TrustInbox(Inbox):
    def __init__(self, ods: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ods = ods
        model = self.record_model
        # Built once, run per message; a NULL header id matches nothing, as no header id should.
        self._lookup = select(model.status_code, model.response).where(
            model.ods == bindparam("ods"),
            or_(model.bundle_id == bindparam("bundle_id"), model.header_id == bindparam("header_id")),
        ).limit(1)

    async def _stored(self, session: AsyncSession, msg: Message):
        """The stored answer (a row with status_code and response) to this message, if any."""
        params = {"ods": self.ods, "bundle_id": msg.bundle_id, "header_id": msg.header_id}
        return (await session.execute(self._lookup, params)).first()

    def _record(self, msg: Message, status: int, body: dict):
        record = super()._record(msg, status, body)
        record.ods = self.ods
        return record
