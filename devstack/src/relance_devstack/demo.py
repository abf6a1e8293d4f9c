"""Demo data for `relance up`, loaded through the dossier API like any client would."""

from datetime import date, timedelta

import httpx

DEMO_CLIENTS = [
    ("C-ACME", "Acme Industries", "FR", "grands comptes", "compta@acme.example", [("F-2026-101", 60, "1250.00"), ("F-2026-117", 35, "830.40"), ("F-2026-140", 12, "2400.00")]),
    ("C-BORD", "Bordeaux Négoce", "FR", "PME", "finance@bordeaux-negoce.example", [("F-2026-205", 20, "540.00")]),
    ("C-LYON", "Lyon Transports", "FR", "PME", None, [("F-2026-311", 5, "1999.99"), ("F-2026-312", -10, "320.00")]),
    ("C-GENT", "Gent Logistics", "BE", "grands comptes", "ap@gent-logistics.example", [("F-2026-410", -20, "7800.00")]),
]

# F-39: the language a demo client's contact reads (its messages use that locale's
# template); the others read the client's locale, French.
DEMO_CONTACT_LANGUAGES = {"C-GENT": "en"}


def load_demo(dossier_url: str, admin_token: str) -> int:
    """Create the demo clients that do not exist yet; returns how many were created."""
    created = 0
    today = date.today()
    with httpx.Client(
        base_url=dossier_url, timeout=30, headers={"Authorization": f"Bearer {admin_token}"}
    ) as http:
        for code, name, country, segment, email, items in DEMO_CLIENTS:
            contacts = []
            if email:
                contacts.append({
                    "name": "Service comptabilité", "observation": "Comptabilité fournisseurs",
                    "language": DEMO_CONTACT_LANGUAGES.get(code),
                    "channels": [{"type": "email", "value": email, "state": "validated", "is_default": True}],
                })
            body = {
                "code": code, "name": name, "country": country, "segment": segment,
                "contacts": contacts,
                "items": [
                    {"kind": "invoice", "number": number, "issue_date": str(today - timedelta(days=days_overdue + 30)),
                     "due_date": str(today - timedelta(days=days_overdue)), "amount": amount}
                    for number, days_overdue, amount in items
                ],
            }
            response = http.post("/clients", json=body)
            if response.status_code == 201:
                created += 1
            elif response.status_code != 409:
                response.raise_for_status()
    return created


# F-35: who signs in to the console in a demo (passwords printed by `relance up`).
DEMO_COLLECTORS = [("CLAIRE", "Claire Martin", "claire@relance.example"),
                   ("MARC", "Marc Dubois", "marc@relance.example")]
DEMO_ASSIGNMENT = {"C-ACME": "CLAIRE", "C-BORD": "CLAIRE", "C-LYON": "MARC"}
DEMO_USERS = [
    ("admin.demo", "admin", None, "admin-demo-pass"),
    ("manager.demo", "manager", None, "manager-demo-pass"),
    ("claire", "collector", "CLAIRE", "claire-demo-pass"),
    ("marc", "collector", "MARC", "marc-demo-pass"),
]


def load_demo_users(dossier_url: str, admin_token: str) -> list[tuple[str, str, str]]:
    """Demo collectors, their clients, and four users with passwords; run again, it only
    resets the passwords. Returns (user name, role, password) of each."""
    with httpx.Client(
        base_url=dossier_url, timeout=30, headers={"Authorization": f"Bearer {admin_token}"}
    ) as http:
        for code, name, email in DEMO_COLLECTORS:
            response = http.post("/collectors", json={"code": code, "name": name, "email": email})
            if response.status_code == 201:
                for client, collector in DEMO_ASSIGNMENT.items():
                    if collector == code:
                        http.put(f"/clients/{client}/collector", json={"collector_code": code}).raise_for_status()
            elif response.status_code not in (409, 422):
                response.raise_for_status()
        existing = {u["name"]: u["id"] for u in http.get("/users").raise_for_status().json()}
        for name, role, collector_code, password in DEMO_USERS:
            if name in existing:
                http.put(f"/users/{existing[name]}/password", json={"password": password}).raise_for_status()
            else:
                http.post("/users", json={"name": name, "role": role, "collector_code": collector_code,
                                          "password": password}).raise_for_status()
    return [(name, role, password) for name, role, _collector, password in DEMO_USERS]
