"""What a discovery list is asked for in its address (``/things?q=...&tag=...&sort=...``), read and checked.

The address is the list's whole state, so that every view of it can be linked,
bookmarked and paged through without JavaScript: each link on the page is this
query with one thing changed (``Browse.link``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, cast
from urllib.parse import urlencode

from multidict import MultiMapping

from gateway.errors import ValidationError
from gateway.i18n import N_
from gateway.rules import CATEGORY_MAX, CONTENT_LANGUAGE, TAG_MAX, text_problem
from gateway.usecases.discovery import Filters

PageSort = Literal["popular", "new", "small"]
SORTS: tuple[PageSort, ...] = ("popular", "new", "small")
SORT_LABELS = {  # how each sort is named where it is offered
    "popular": N_("Popular this period"),
    "new": N_("New"),
    "small": N_("New and small"),
}
QUERY_MAX = 200  # characters of a search: more than any title's words
CURSOR_MAX = 200  # characters of a "more" link's position: what encode_cursor makes is far shorter
_LANGUAGE = re.compile(CONTENT_LANGUAGE)


@dataclass(frozen=True)
class Browse:
    q: str = ""
    language: str = ""
    category: str = ""
    tag: str = ""
    sort: PageSort = "popular"
    after: str = ""  # the position of a "more" link (gateway.http.schemas.encode_cursor); "" for the first page

    @property
    def filters(self) -> Filters:
        return Filters(None, self.language or None, self.category or None, self.tag or None, self.q.strip() or None)

    @property
    def filtered(self) -> bool:
        return bool(self.q.strip() or self.language or self.category or self.tag)

    def link(self, **changes: str) -> str:
        """This list's address with ``changes``; any change but the position's starts again at the first page."""
        changed = replace(self, **({"after": ""} | changes))  # type: ignore[arg-type]
        fields = {name: value for name, value in asdict(changed).items() if value and (name, value) != ("sort", "popular")}
        return "/things" + ("?" + urlencode(fields) if fields else "")


def read_browse(query: MultiMapping[str]) -> Browse:
    """The list the address asks for; a value no list could have is a 422 naming its field. Unknown names are ignored."""
    values = {name: _text(query, name) for name in ("q", "language", "category", "tag", "sort", "after")}
    limits = {"q": QUERY_MAX, "category": CATEGORY_MAX, "tag": TAG_MAX, "after": CURSOR_MAX}
    for name, most in limits.items():
        if len(values[name]) > most:
            raise ValidationError(f"{name}: at most {most} characters", field=name)
    if values["language"] and not _LANGUAGE.fullmatch(values["language"]):
        raise ValidationError("language: a language code such as fr or pt-BR", field="language")
    sort = values["sort"] or "popular"
    if sort not in SORTS:
        raise ValidationError(f"sort: one of {', '.join(SORTS)}", field="sort")
    values["sort"] = sort
    return Browse(**cast(dict[str, Any], values))


def _text(query: MultiMapping[str], name: str) -> str:
    value = query.get(name, "")
    if text_problem(value, name) is not None:
        raise ValidationError(f"{name}: {text_problem(value, name)}", field=name)
    return value.strip() if name != "q" else value
