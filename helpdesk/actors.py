"""Who is acting: passed to every service call."""

from __future__ import annotations

from dataclasses import dataclass

from helpdesk.accounts.models import Role


@dataclass(frozen=True)
class Actor:
    type: str  # "agent", "customer" or "system"
    id: int | None
    name: str
    role: Role | None = None

    @property
    def is_agent(self) -> bool:
        return self.type == "agent"

    def can(self, role: Role) -> bool:
        return self.type == "system" or (self.role is not None and self.role.rank >= role.rank)


SYSTEM = Actor("system", None, "Helpdesk")


def agent_actor(agent: object) -> Actor:
    return Actor("agent", agent.id, agent.name, agent.role)  # type: ignore[attr-defined]


def customer_actor(customer: object) -> Actor:
    name = getattr(customer, "name", None) or getattr(customer, "email", None) or "Customer"
    return Actor("customer", customer.id, name)  # type: ignore[attr-defined]
