"""What the demo holds: its people, their things and who funds what. The same every time, so pages and screenshots are.

French and English side by side, as a deployment in Europe would have
them (the French with its no-break spaces before ``:`` and ``;``); every
address is under ``.example``, which reaches nobody.
"""

from __future__ import annotations

from dataclasses import dataclass

PASSWORD = "demo-password"  # every demo account's; printed by ``gateway demo`` and nowhere secret
# The accounts ``gateway demo`` tells its user to sign in as, and what each shows.
ACCOUNTS = (("amelie", "funder"), ("bob", "creator"), ("operator", "operator"))
OTHER_CURRENCY = "USD"  # a funder pays in it where the deployment and the sandbox rail take it


@dataclass(frozen=True)
class Person:
    handle: str
    language: str  # the pages' language for them, and their mail's
    currency: str = "EUR"  # preferred: what they fund or are paid in
    listed: bool = False  # named in the public reports (transparency)
    operator: bool = False

    @property
    def address(self) -> str:
        return f"{self.handle}@demo.example"


@dataclass(frozen=True)
class Work:
    """A thing a creator registers."""

    key: str
    owner: str
    url: str
    title: str
    description: str
    language: str
    category: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Funding:
    """A funder's month: a top-up, a budget, flattrs (thing key, points) in the settled period and in the current one."""

    funder: str
    top_up: str
    budget: str
    settled: tuple[tuple[str, int], ...]
    current: tuple[tuple[str, int], ...]
    subscription: tuple[str, int] | None = None  # (thing key, points), every period from the settled one on


OPERATOR = Person("operator", "en", operator=True)
CREATORS = (
    Person("camille", "fr", listed=True),
    Person("jeanne", "fr"),
    Person("bob", "en"),
    Person("nadia", "en"),
)
FUNDERS = (
    Person("amelie", "fr"),
    Person("dan", "en"),
    Person("sofia", "en", currency=OTHER_CURRENCY),
    Person("lucas", "fr"),
)
PEOPLE = (OPERATOR, *CREATORS, *FUNDERS)

WORKS = (
    Work(
        "licence",
        "camille",
        "https://camille-ecrit.example/2026/pourquoi-la-licence-libre",
        "Pourquoi je publie tous mes textes sous licence libre",
        "Trois ans après avoir placé mon blog sous licence CC BY-SA, le bilan\u00a0: plus de lecteurs, des traductions "
        "que je n'avais pas demandées, et assez de petits dons pour payer l'hébergement.",
        "fr",
        "text",
        ("blog", "culture libre", "écriture"),
    ),
    Work(
        "gr20",
        "camille",
        "https://camille-ecrit.example/2026/gr20-en-huit-jours",
        "Carnet de route\u00a0: le GR 20 en huit jours",
        "Étapes, dénivelés, refuges et ampoules\u00a0: la traversée de la Corse à pied racontée jour après jour, avec les "
        "cartes et la liste du sac.",
        "fr",
        "text",
        ("randonnée", "voyage"),
    ),
    Work(
        "phare",
        "jeanne",
        "https://phare.example/bd/episode-12",
        "Les Chroniques du Phare, épisode 12\u00a0: la tempête",
        "Une bande dessinée en ligne, un épisode par mois. Maëlle, gardienne de phare, recueille un naufragé qui ne "
        "parle aucune langue connue.",
        "fr",
        "comic",
        ("bande dessinée", "webcomic"),
    ),
    Work(
        "valse",
        "jeanne",
        "https://phare.example/musique/la-valse-des-marees",
        "La Valse des marées",
        "Une chanson pour accordéon et voix, enregistrée dans la cuisine\u00a0; paroles et partition sous licence libre.",
        "fr",
        "music",
        ("chanson", "accordéon"),
    ),
    Work(
        "tessera",
        "bob",
        "https://git.example/bob/tessera",
        "Tessera: offline-first notes that sync as plain files",
        "A small free-software notes app (GPL-3.0): Markdown files in a folder, synced by whatever you already use. "
        "This month: full-text search and a dark theme.",
        "en",
        "software",
        ("free software", "python", "notes"),
    ),
    Work(
        "small-change",
        "nadia",
        "https://smallchange.example/episodes/7",
        "Small Change, episode 7: paying creators without ads",
        "A conversation about micropayments, the commons, and why a monthly budget feels different from a paywall. "
        "42 minutes, with a transcript.",
        "en",
        "podcast",
        ("podcast", "economics"),
    ),
)

# Amounts in the funder's currency (EUR, or OTHER_CURRENCY for sofia); points above the deployment's maximum count
# as its maximum (one, where weighted points are off).
FUNDINGS = (
    Funding(
        "amelie",
        "30.00",
        "10.00",
        (("licence", 3), ("phare", 2), ("tessera", 1)),
        (("gr20", 2), ("small-change", 1), ("valse", 1)),
    ),
    Funding("dan", "20.00", "5.00", (("tessera", 2), ("small-change", 1)), (("tessera", 1), ("phare", 1))),
    Funding("sofia", "25.00", "8.00", (("small-change", 1), ("licence", 1), ("valse", 2)), (("tessera", 3),)),
    Funding("lucas", "15.00", "4.00", (("licence", 1),), (("licence", 1),), subscription=("phare", 2)),
)
WITHDRAWAL = ("camille", "3.00")  # after the settlement, in EUR: a creator's payout history is not empty
