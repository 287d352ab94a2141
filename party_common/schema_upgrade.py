"""Brings a party's database made by an earlier version up to its models: adds the nullable columns it lacks.

`create_all` makes missing tables but leaves existing ones alone, so a kept database (the compose
stack's volume, `testbed up --keep-data`) would refuse inserts naming a column added since, such
as the broker journal's `origin_id` or the inboxes' `digest`. Only nullable columns are added: older rows simply have none.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from party_common.database import Database


def _add_missing(conn: Connection, metadata) -> list[str]:
    existing_tables = set(inspect(conn).get_table_names())
    added = []
    for table in metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        have = {c["name"] for c in inspect(conn).get_columns(table.name)}
        for column in table.columns:
            if column.name in have or not column.nullable:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}'))
            added.append(f"{table.name}.{column.name}")
    return added


async def add_missing_columns(db: Database) -> list[str]:
    async with db.engine.begin() as conn:
        return await conn.run_sync(_add_missing, db.base.metadata)
