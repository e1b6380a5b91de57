"""The development directory: the organizations, contacts and staff behind the dev keys.

``TICKET_API_DEV_MODE=true`` (``make run``, the tests) registers them once, so the README's
development keys act as real directory entries and every rule — active tenants, registered
contacts, agents' tenants — applies to them exactly as in production.
"""

from __future__ import annotations

from ticket_api.directory import Directory

SEEDER = {"kind": "service", "id": "dev-seed", "name": "development seed"}
TENANTS = {"acme": "ACME Corp.", "globex": "Globex S.A.", "femsa": "FEMSA"}
CONTACTS = [
    ("acme", "contact-ana", {"name": "Ana Ruiz", "email": "ana@acme.example", "locale": "es"}),
    ("globex", "contact-bob", {"name": "Bob Lee", "email": "bob@globex.example", "locale": "en"}),
    ("femsa", "contact-rosa", {"name": "Rosa Díaz", "email": "rosa@femsa.example"}),
]
STAFF = [
    ("agent-lucia", "agent", "Lucía Gómez", "lucia@desk.example", ["*"]),
    ("agent-pablo", "agent", "Pablo Ortiz", "pablo@desk.example", ["globex"]),
    ("sup-marco", "supervisor", "Marco Díaz", "marco@desk.example", ["*"]),
    ("admin-ops", "admin", "Operaciones", "ops@desk.example", ["*"]),
]


def seed_development_directory(directory: Directory) -> None:
    """Register what is missing (safe to run on every start)."""
    registry = directory.registry()
    for slug, name in TENANTS.items():
        if slug not in registry.tenants:
            directory.register_tenant(slug=slug, name=name, policies=[], by=SEEDER)
    for tenant, contact_id, details in CONTACTS:
        if contact_id not in directory.tenant(tenant).contacts:
            directory.register_contact(
                tenant, contact_id=contact_id, details={"locale": "es", **details}, by=SEEDER
            )
    for staff_id, role, name, email, tenants in STAFF:
        if staff_id not in registry.staff:
            directory.register_staff(
                staff_id=staff_id, role=role, name=name, email=email, tenants=tenants, by=SEEDER
            )
