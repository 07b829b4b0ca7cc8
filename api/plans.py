"""What can be bought: the plans (included minutes each paid month, API requests per hour)
and the top-up packs (minutes once). Prices of plans live in Stripe (configured price ids);
packs are priced here, so top-ups work with nothing set up in Stripe but the key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    included_minutes: int                 # granted to the balance when a period is paid
    api_requests_per_hour: int | None     # for API keys; None: unlimited
    price_setting: str | None             # the Settings field holding its Stripe price id


@dataclass(frozen=True)
class Pack:
    name: str
    minutes: int
    price_cents: int                      # in settings.stripe_currency

    @property
    def seconds(self) -> int:
        return self.minutes * 60


PLANS: dict[str, Plan] = {p.name: p for p in (
    Plan("free", "Free", 0, 100, None),
    Plan("pro", "Pro", 1000, 1000, "stripe_price_pro"),
    Plan("enterprise", "Enterprise", 5000, None, "stripe_price_enterprise"),
)}
PAID_PLANS = tuple(name for name, plan in PLANS.items() if plan.price_setting)

PACKS: dict[str, Pack] = {p.name: p for p in (
    Pack("minutes_100", 100, 1_500),
    Pack("minutes_500", 500, 6_000),
    Pack("minutes_2000", 2_000, 20_000),
)}


def api_requests_per_hour(settings: object, plan: str) -> int | None:
    """The plan's API-key requests per hour on this server (PLAN_API_REQUESTS_PER_HOUR
    overrides the defaults above); None: unlimited."""
    configured = dict(part.split("=", 1) for part in
                      str(getattr(settings, "plan_api_requests_per_hour", "")).split(",")
                      if "=" in part)
    value = configured.get(plan)
    if value is None:
        return PLANS[plan].api_requests_per_hour
    return None if value == "unlimited" else int(value)


def plan_for_price(settings: object, price_id: str | None) -> str | None:
    """The plan whose configured Stripe price is ``price_id``."""
    for plan in PLANS.values():
        if plan.price_setting and price_id and getattr(settings, plan.price_setting) == price_id:
            return plan.name
    return None
