"""The console scripts' words, in one catalogue for every script (console.js, console-live.js,
alerts.js, sla.js, composer.js, reports.js, rules.js, order-actions.js).

base.html renders `catalogue()` into the page as JSON (#console-strings); static/i18n.js reads it
and gives the scripts `t(key, vars)` and `tn(key, count, vars)`. Placeholders stay as "%(name)s"
for the script to fill in. A plural message is sent as one text per CLDR plural category of the
page's language ("one", "few", "many", "other"), so the script picks with Intl.PluralRules and
needs no copy of gettext's plural expressions. tests/test_i18n_js.py checks that every key a
script asks for is here.
"""

from __future__ import annotations

from babel import Locale
from flask_babel import get_translations

from helpdesk.i18n import DEFAULT_LOCALE, N_, Np_, supported
from helpdesk.i18n.web import LABELS

STRINGS: dict[str, str] = {
    # console.js
    "bulk.select": N_("Select"),
    "copied": N_("Copied"),
    # console-live.js
    "just_now": N_("just now"),
    "presence.connecting": N_("Connecting…"),
    "presence.online": N_("Online"),
    "presence.away": N_("Away"),
    "presence.offline": N_("Offline"),
    "presence.online_hint": N_("You are online: new chats can reach you. Click to go away."),
    "presence.away_hint": N_("You are away. Click to go online."),
    "presence.not_connected": N_("Not connected"),
    "roster.title": N_("Team"),
    "roster.you": N_("%(name)s (you)"),
    "visitor": N_("Visitor"),
    "a_visitor": N_("a visitor"),
    "select_row": N_("Select %(name)s"),
    "no_subject": N_("(no subject)"),
    "unassigned": N_("Unassigned"),
    "claim": N_("Claim"),
    "claim_failed": N_("Could not claim it"),
    "new_conversation_from": N_("New conversation from %(name)s"),
    "live_off": N_("Live updates are off"),
    "not_delivered": N_("Not delivered"),
    "not_delivered_because": N_("Not delivered: %(reason)s"),
    "retry": N_("Retry"),
    "retry_failed": N_("Retry failed"),
    "private_note": N_("private note"),
    "email.forwarded_to": N_("Forwarded to"),
    "email.from": N_("From"),
    "email.to": N_("To"),
    "email.cc": N_("Cc"),
    "email.bcc": N_("Bcc"),
    "open_full_size": N_("Open %(name)s full size"),
    "change.assigned_to": N_("assigned to %(name)s"),
    "change.unassigned": N_("unassigned"),
    "change.status": N_("now %(status)s"),
    "change.priority": N_("priority %(priority)s"),
    "change.toast": N_("This conversation was %(changes)s"),
    "someone": N_("Someone"),
    "typing": N_("%(name)s is typing…"),
    "no_answer": N_("No answer from the server: your reply was kept, send it again."),
    # alerts.js
    "alerts.unavailable": N_("Desktop notifications are not available in this browser."),
    "alerts.on": N_("Desktop notifications on"),
    "alerts.blocked": N_("Notifications are blocked for this site in the browser"),
    "alerts.assigned": N_("Assigned to you: %(conversation)s"),
    "alerts.the_customer": N_("The customer"),
    "alerts.replied": N_("%(name)s replied"),
    "alerts.mentioned": N_("%(name)s mentioned you in %(conversation)s"),
    # sla.js
    "sla.overdue": N_("overdue %(time)s"),
    "sla.due_in": N_("due in %(time)s"),
    "sla.due_in_breached": N_("due in %(time)s · breached"),
    # composer.js
    "composer.remove": N_("Remove %(name)s"),
    "composer.too_big": N_("%(name)s is larger than %(size)s MB."),
    "composer.bad_type": N_("%(name)s: images (PNG, JPEG, GIF, WebP), PDF, TXT or CSV only."),
    "composer.send_failed": N_("Sending failed (%(status)s)"),
    "composer.no_signature": N_("(no signature)"),
    # reports.js
    "reports.csat_rolling": N_("CSAT % (7 days)"),
    "reports.csat_answers": N_("CSAT answers"),
    "reports.created": N_("Created"),
    "reports.resolved": N_("Resolved"),
    "reports.answers": N_("Answers"),
    "reports.without_agent": N_("Without an agent"),
    "reports.needed_agent": N_("Needed an agent"),
    # rules.js
    "rules.remove": N_("Remove"),
    "op.is": N_("is"),
    "op.is_not": N_("is not"),
    "op.contains": N_("contains"),
    "op.not_contains": N_("does not contain"),
    "op.gt": N_("is more than"),
    "op.lt": N_("is less than"),
    # order-actions.js
    "orders.asking": N_("Asking the shop for its calculation…"),
    "orders.cannot_calculate": N_("Cannot calculate."),
    "orders.not_answered": N_("The shop has not answered yet."),
    "orders.shop_says": N_("The shop says: %(error)s"),
    "orders.shop_calculates": N_("The shop calculates %(amount)s."),
    "orders.choose_refund": N_("Choose what to refund."),
    "orders.more_than_left": N_("That is more than the %(amount)s left."),
    "orders.refund": N_("Refund %(amount)s to the customer."),
    "orders.cancel_and_refund": N_("Cancel the order and refund %(amount)s."),
    "orders.cancel_no_refund": N_("Cancel the order without a refund."),
    "orders.reship": N_("Send the ticked items again at %(amount)s."),
    "orders.update_address": N_("Ship to the address above."),
    "orders.resend_confirmation": N_("Send the order confirmation to the customer again."),
}

PLURALS: dict[str, tuple[str, str]] = {
    "bulk.selected": Np_("%(count)s selected", "%(count)s selected"),
    "composer.too_many": Np_("At most %(count)s file per message.", "At most %(count)s files per message."),
    "viewers": Np_("⚠ %(names)s is also viewing this conversation — check before you reply.",
                   "⚠ %(names)s are also viewing this conversation — check before you reply."),
}

# A count in each CLDR plural category (French has "many" only from a million).
_SAMPLES = (*range(0, 200), 1000, 1_000_000)


def plural_samples(locale: str) -> dict[str, int]:
    """CLDR plural category -> a whole number in it, for the integers a script counts."""
    rule = Locale.parse(supported(locale) or DEFAULT_LOCALE).plural_form
    samples: dict[str, int] = {}
    for n in _SAMPLES:
        samples.setdefault(rule(n), n)
    return samples


def catalogue(locale: str) -> dict[str, object]:
    """Every script string in the request's language (call inside a request: Flask-Babel's catalogue)."""
    translations = get_translations()
    out: dict[str, object] = {key: translations.gettext(text) for key, text in STRINGS.items()}
    # The one mapping of domain values (status, priority, channel, role) to the console's words.
    out.update({f"label.{value}": str(word) for value, word in LABELS.items()})
    samples = plural_samples(locale)
    for key, (singular, plural) in PLURALS.items():
        out[key] = {category: translations.ngettext(singular, plural, n) for category, n in samples.items()}
    return out
