"""Seeds the spine's demographics from the synthetic population, once per database."""

from __future__ import annotations

import structlog
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from party_common.database import Database
from party_common.population import synthetic_population

from spine_mock.models import Patient

log = structlog.get_logger("seeding")


async def seed_patients(db: Database, seed: int, size: int) -> int:
    """Inserts the population if the table is empty; returns how many rows were written."""
    async with db.engine.connect() as conn:
        if (await conn.execute(select(Patient.nhs_number).limit(1))).first() is not None:
            return 0
    rows = [
        {"nhs_number": p.nhs_number, "family": p.family, "given": p.given, "gender": p.gender,
         "birth_date": p.birth_date, "gp_ods": p.gp_ods}
        for p in synthetic_population(seed, size)
    ]
    if not rows:
        return 0
    try:
        # One executemany in one transaction: a row at a time would cost a round trip each.
        async with db.engine.begin() as conn:
            await conn.execute(insert(Patient), rows)
    except IntegrityError:
        # Another worker on the same database seeded it first; its copy is the same population.
        log.info("population already seeded by another process")
        return 0
    log.info("population seeded", patients=len(rows), seed=seed)
    return len(rows)
