"""Tracking links shoppers and agents can click: the platform's own, else the carrier's page."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

# Public tracking pages of the carriers shops use most; {n} is the tracking number.
CARRIER_PAGES = {
    "ups": "https://www.ups.com/track?tracknum={n}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={n}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={n}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={n}",
    "dhl express": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={n}",
    "royal mail": "https://www.royalmail.com/track-your-item#/tracking-results/{n}",
    "canada post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={n}",
    "australia post": "https://auspost.com.au/mypost/track/#/details/{n}",
    "dpd": "https://www.dpd.com/tracking/?parcelNumber={n}",
    "gls": "https://gls-group.com/track/{n}",
    "postnl": "https://jouw.postnl.nl/track-and-trace/{n}",
}


def safe_url(url: str | None) -> str | None:
    """Only http(s) links reach an href: a payload's `javascript:` URL must never be clickable."""
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def tracking_link(carrier: str | None, number: str | None, url: str | None = None) -> str | None:
    if link := safe_url(url):
        return link
    if not number:
        return None
    key = (carrier or "").strip().lower()
    for name, page in CARRIER_PAGES.items():
        if key == name or key.startswith(name + " ") or key.replace("_", " ") == name:
            return page.format(n=quote(number.strip(), safe=""))
    return None
