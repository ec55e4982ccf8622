"""A creator's things as an Atom 1.0 feed (RFC 4287), each entry with the ``payment`` link Flattr's feeds carried.

A feed reader that knows the convention offers to flattr an entry from its
``<link rel="payment">``, which leads to the thing's flattr page here; the
``alternate`` link is the thing itself, on its creator's site. Written with
ElementTree, so that whatever a title holds is escaped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime

from gateway.usecases.creator_profile import CreatorProfile
from gateway.usecases.things import ThingView

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_TYPE = "application/atom+xml"
ET.register_namespace("", ATOM)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")  # RFC 3339, with its offset: the stored moments are in UTC


def atom_feed(creator: CreatorProfile, things: Sequence[ThingView], base: str, site_name: str) -> bytes:
    """The feed of ``things`` (the creator's newest, visible ones); ``base`` is the deployment's absolute address."""
    profile = f"{base}/creators/{creator.handle}"
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", profile)
    _add(feed, "title", f"{creator.handle} · {site_name}")
    _add(feed, "updated", _when(creator.latest or creator.joined))
    _add(_add(feed, "author"), "name", creator.handle)
    _add(feed, "link", rel="self", type=FEED_TYPE, href=f"{profile}/feed.atom")
    _add(feed, "link", rel="alternate", type="text/html", href=profile)
    _add(feed, "link", rel="payment", href=profile)
    for thing in things:
        entry = _add(feed, "entry")
        if thing.language:
            entry.set(XML_LANG, thing.language)
        _add(entry, "id", f"{base}/things/{thing.id}")
        _add(entry, "title", thing.title)
        _add(entry, "updated", _when(thing.created_at))
        _add(entry, "published", _when(thing.created_at))
        _add(entry, "link", rel="alternate", href=thing.url)
        _add(entry, "link", rel="payment", href=f"{base}/flattr/{thing.id}")
        if thing.description:
            _add(entry, "summary", thing.description)
        if thing.category:
            _add(entry, "category", term=thing.category)
        for tag in thing.tags:
            _add(entry, "category", term=tag)
    written: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return written
