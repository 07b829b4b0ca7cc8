"""API key scopes. A signed-in member holds their role's (api.permissions); a key holds what it
was given, within its creator's role."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "read:clients": "List and read clients and their agent settings",
    "write:clients": "Create, update and delete clients and change their agent settings",
    "read:contacts": "List and read contacts",
    "write:contacts": "Create, update and delete contacts",
    "read:conversations": "List, read and export conversations",
    "write:conversations": "Delete conversations",
    "read:calendar": "Read calendar connection status",
    "write:calendar": "Connect, upload and revoke calendar credentials",
    "read:calls": "See calls in progress",
    "write:calls": "End and transfer live calls, leave feedback, append transcript notes",
    "read:appointments": "List and read appointments and free slots",
    "write:appointments": "Book, change, reschedule and cancel appointments",
    "manage:api_keys": "Create, list, rotate and revoke API keys (within the key's own scopes)",
    "read:webhooks": "List webhook endpoints and their deliveries",
    "write:webhooks": "Register, test, enable and delete webhook endpoints; redeliver",
    "read:twilio": "See the Twilio account in use and its numbers",
    "write:twilio": "Set Twilio credentials and assign numbers to clients",
    "read:analytics": "Read call statistics, daily metrics, sentiment and exports",
    "read:tool_audit": "Read the log of tools the agent ran, with inputs, outputs and timings",
    "write:integrations": "Send test messages through the configured integrations",
    "read:billing": "See the plan, usage, subscription and invoices",
    "write:billing": "Buy minutes, change or cancel the plan, set the payment method",
    "read:team": "List the organisation's members and pending invitations",
    "manage:team": "Invite, remove and change the role of members",
}
ALL = frozenset(SCOPES)
