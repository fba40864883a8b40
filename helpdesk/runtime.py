"""The per-app runtime: what create_app builds once and hands to every room and every job.

One `Runtime` per app (stored at `app.extensions["helpdesk.runtime"]`) holds the settings, the
event dispatcher, the database, the clock, the job registry, and the small capabilities and
panels one room offers another. Nothing here is module state: two apps in one process (tests, a
worker beside a web app) never see each other's handlers, caches or settings.

Rooms wire themselves in one `init_app(app, runtime)` each; a job handler receives a `JobContext`
instead of reading module globals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from helpdesk.db import utcnow

if TYPE_CHECKING:
    import threading

    from flask import Flask

    from helpdesk.db import Database
    from helpdesk.events import Dispatcher

T = TypeVar("T")
Handler = Callable[["JobContext", dict[str, Any]], None]
Clock = Callable[[], datetime]


class JobRegistry:
    """The job kinds one runtime knows: kind -> handler, and the periodic ones with their interval."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._every: dict[str, float] = {}

    def register(self, kind: str, fn: Handler, *, replace: bool = False) -> Handler:
        """`replace=True` swaps a handler in on purpose (a benchmark's or a test's stand-in)."""
        known = self._handlers.get(kind)
        if not replace and known is not None and known is not fn:
            raise ValueError(f"job kind {kind!r} already has a handler ({known!r})")
        self._handlers[kind] = fn
        return fn

    def periodic(self, kind: str, every_seconds: float, fn: Handler) -> Handler:
        """A handler the worker runs every `every_seconds` (at most one pending run at a time)."""
        if every_seconds <= 0:
            raise ValueError(f"periodic job {kind!r} needs a positive interval")
        self.register(kind, fn)
        self._every[kind] = float(every_seconds)
        return fn

    def handler(self, kind: str) -> Handler | None:
        return self._handlers.get(kind)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    @property
    def every(self) -> dict[str, float]:
        """Periodic kinds and their intervals in seconds."""
        return dict(self._every)

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers


@dataclass(frozen=True)
class Panel:
    """One block a higher room adds to a page of a lower one: a template and the data it shows."""

    name: str
    template: str
    data: Any


PanelFn = Callable[..., Any]


class Panels:
    """Slots on pages ("conversation.sidebar", "conversation.message") that higher rooms fill.

    The page's own view asks for its slot's panels and passes them to the template, so a template
    never queries and a lower room never imports the room that draws in its page."""

    def __init__(self) -> None:
        self._slots: dict[str, list[tuple[str, str, PanelFn]]] = {}

    def add(self, slot: str, name: str, fn: PanelFn, template: str = "") -> None:
        entries = self._slots.setdefault(slot, [])
        if any(existing == name for existing, _t, _f in entries):
            raise ValueError(f"panel {name!r} is already in slot {slot!r}")
        entries.append((name, template, fn))

    def render(self, slot: str, *args: Any, **kwargs: Any) -> list[Panel]:
        """Each panel of the slot with its data (in registration order); a panel whose data is None is left out."""
        shown = []
        for name, template, fn in self._slots.get(slot, []):
            data = fn(*args, **kwargs)
            if data is not None:
                shown.append(Panel(name, template, data))
        return shown

    def first(self, slot: str, *args: Any, **kwargs: Any) -> Any:
        """The data of the first panel of the slot that has some (per-item slots: one message's view)."""
        for _name, _template, fn in self._slots.get(slot, []):
            data = fn(*args, **kwargs)
            if data is not None:
                return data
        return None


class Runtime:
    """Everything of one app that outlives a request: settings, events, database, clock, jobs."""

    def __init__(self, settings: Mapping[str, Any], events: Dispatcher, db: Database,
                 clock: Clock = utcnow) -> None:
        self.settings = settings  # the app's config mapping itself: a later change is seen
        self.events = events
        self.db = db
        self.clock = clock
        self.jobs = JobRegistry()
        self.panels = Panels()
        self._capabilities: dict[str, Any] = {}
        self._state: dict[str, Any] = {}

    # -- what one room offers another ---------------------------------------------------------

    def provide(self, name: str, capability: Any, *, replace: bool = False) -> None:
        """Offer a capability under a name ("chat.shopper_online", "csat.submit"): the room that
        has it registers it in its init_app; a lower room reads it with `capability(name)`.
        `replace=True` swaps one in on purpose (a test's stand-in)."""
        if not replace and name in self._capabilities and self._capabilities[name] is not capability:
            raise ValueError(f"capability {name!r} is already provided")
        self._capabilities[name] = capability

    def capability(self, name: str, default: Any = None) -> Any:
        return self._capabilities.get(name, default)

    # -- per-app state of a room (caches, request budgets) ------------------------------------

    def state(self, key: str, factory: Callable[[], T]) -> T:
        """The room's per-app object under `key`, made by `factory` on first use."""
        if key not in self._state:
            self._state[key] = factory()
        return self._state[key]  # type: ignore[no-any-return]

    def context(self, job: JobInfo | None = None, lease_lost: threading.Event | None = None) -> JobContext:
        """A handler's context; without a job, one for calling a handler directly (CLI, tests)."""
        job = job or JobInfo(id=0, kind="direct", attempts=1, max_attempts=1, created_at=self.clock())
        return JobContext(self, job, lease_lost)


@dataclass(frozen=True)
class JobInfo:
    id: int
    kind: str
    attempts: int
    max_attempts: int
    created_at: datetime


@dataclass
class JobContext:
    """What a job handler gets besides its payload. Handlers work in phases: read in a short
    `ctx.db.unit_of_work()`, call the outside world with no transaction open, write in another."""

    runtime: Runtime
    job: JobInfo
    _lease_lost: threading.Event | None = field(default=None, repr=False)

    @property
    def db(self) -> Database:
        return self.runtime.db

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.runtime.settings

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    def now(self) -> datetime:
        return self.runtime.clock()

    @property
    def lease_lost(self) -> bool:
        """True once the heartbeat found another worker holding this job: stop, write nothing."""
        return self._lease_lost is not None and self._lease_lost.is_set()


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["helpdesk.runtime"]  # type: ignore[no-any-return]


def current_runtime() -> Runtime:
    """The runtime of the app of the current request (views and sockets)."""
    from flask import current_app

    return runtime_of(current_app)
