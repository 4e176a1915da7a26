"""A demo organisation set for the embedded default: one municipality with a unit, one centre, a few staff."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from session.access.tables import organisation_departments
from session.tables import organisations, staff, staff_roles

# Valid (mod-11) but fictitious organisation numbers in a range not used by real Norwegian entities' examples.
DEMO_ORGS = [
    # (id, org_number, name, kind, parent, enabled)
    (1, "991000003", "Eksempel kommune", "municipality", None, True),
    (2, "992000007", "Eksempel kommune, ergoterapitjenesten", "municipality_unit", 1, True),
    (3, "993000000", "NAV Hjelpemiddelsentral Eksempel", "centre", None, True),
    (4, "994000004", "NAV Hjelpemiddelsentral Eksempel, teknisk avdeling", "centre_department", 3, True),
    (5, "995000008", "Nabo kommune", "municipality", None, True),
]
DEMO_DEPARTMENTS = [(4, "teknisk")]
DEMO_STAFF = [
    # (subject, display name, organisation, roles)
    ("demo-formidler", "Kari Ergo (formidler)", 2, ["formidler"]),
    ("demo-tilgangsstyrer", "Tor Tilgang (tilgangsstyrer)", 1, ["access_manager"]),
    ("demo-radgiver", "Rita Rådgiver (hjelpemiddelsentral)", 3, ["adviser"]),
    ("demo-tekniker", "Terje Tekniker (teknisk avdeling)", 4, ["technician"]),
    ("demo-personvern", "Pia Personvern (personvernombud)", 1, ["compliance_officer"]),
    ("demo-senteradmin", "Sverre Senteradmin (hjelpemiddelsentral)", 3, ["centre_admin"]),
    ("demo-nabo", "Nina Nabo (formidler, Nabo kommune)", 5, ["formidler"]),
]


async def seed_demo(engine: AsyncEngine) -> bool:
    """Insert the demo set into an empty database; returns False (and changes nothing) otherwise."""
    async with engine.begin() as conn:
        if (await conn.execute(select(func.count()).select_from(organisations))).scalar_one():
            return False
        for oid, number, name, kind, parent, enabled in DEMO_ORGS:
            await conn.execute(
                insert(organisations).values(
                    id=oid, org_number=number, name=name, kind=kind, parent_id=parent, enabled=enabled
                )
            )
        # Both ends are parties: the demo municipalities are served by the demo centre.
        await conn.execute(
            update(organisations).where(organisations.c.kind == "municipality").values(serving_centre_id=3)
        )
        for subject, name, org, roles in DEMO_STAFF:
            result = await conn.execute(
                insert(staff).values(subject=subject, display_name=name, organisation_id=org, active=True)
            )
            staff_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
            for role in roles:
                await conn.execute(insert(staff_roles).values(staff_id=staff_id, role=role, organisation_id=org))
        for org_id, department in DEMO_DEPARTMENTS:
            await conn.execute(insert(organisation_departments).values(organisation_id=org_id, department=department))
    return True
