"""The shop's marketing tool: customers' email consent and its Mailchimp audience.

Sits just above crm/ (it reads and writes customers); customers360/ and chat/ call its services."""

from __future__ import annotations

from typing import Any


def init_app(app: Any, runtime: Any) -> None:
    """The Mailchimp jobs (settings HELPDESK_MAILCHIMP_API_KEY, _LIST_ID, _API_URL, _ERASE)."""
    from helpdesk.marketing import consent, sync

    runtime.jobs.register(consent.SYNC_JOB, sync.sync_consent_job)
    runtime.jobs.register(consent.ERASE_JOB, sync.erase_member_job)
