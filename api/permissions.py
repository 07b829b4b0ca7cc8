"""The permissions matrix: which scopes each role of an organisation holds.

A signed-in member holds their role's scopes. An API key acts in its creator's organisation
with the scopes it was given that the creator's role still holds (so demoting a member
narrows their keys, and removing one stops them).

- member: reads calls, transcripts (conversations), appointments, the clients and contacts
  they concern and the team; books and changes appointments.
- admin: everything a member does, and manages clients, agent settings, contacts,
  calendars, API keys, webhooks, Twilio, integrations, analytics and the tool audit.
- owner: everything, including billing and the team (invite, remove, change roles).
"""

from __future__ import annotations

from api.scopes import ALL, SCOPES

MEMBER = frozenset({
    "read:calls", "read:conversations", "read:appointments", "write:appointments",
    "read:clients", "read:contacts", "read:team",
})
OWNER_ONLY = frozenset({"read:billing", "write:billing", "manage:team"})
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "member": MEMBER,
    "admin": ALL - OWNER_ONLY,
    "owner": ALL,
}
ROLES = tuple(ROLE_SCOPES)  # most limited first
ROLE_DESCRIPTIONS = {
    "member": "Reads calls, transcripts and appointments, and manages appointments",
    "admin": "Also manages clients, settings, API keys and webhooks",
    "owner": "Also billing and the team",
}
assert MEMBER <= ALL and OWNER_ONLY <= ALL


def scopes_of(role: str) -> frozenset[str]:
    """The role's scopes (none for an unknown role)."""
    return ROLE_SCOPES.get(role, frozenset())


def matrix() -> dict:
    """The matrix as the API shows it: every role with its scopes, every scope described."""
    return {
        "roles": [{"role": role, "description": ROLE_DESCRIPTIONS[role],
                   "scopes": sorted(ROLE_SCOPES[role])} for role in ROLES],
        "scopes": [{"scope": s, "description": d,
                    "roles": [r for r in ROLES if s in ROLE_SCOPES[r]]}
                   for s, d in SCOPES.items()],
    }
