"""The database schema, as SQLAlchemy Core tables.

Migrations (``storage/migrations``) are generated from this metadata and a
test checks the two never drift. Money columns are integer minor units.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from gateway.rules import CATEGORY_MAX, HANDLE_MAX, TAG_MAX, TITLE_MAX, TOKEN_NAME_MAX
from gateway.urls import MAX_URL

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
Id = BigInteger().with_variant(Integer, "sqlite")
Minor = BigInteger  # an amount in minor units
Code = String(12)  # a currency code


class Timestamp(TypeDecorator[datetime]):
    """A moment, always timezone-aware and in UTC when it comes back.

    SQLite keeps no zone: what goes in is turned to UTC, and what comes out
    is marked UTC, so no naive datetime ever reaches the code above.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


PeriodId = String(10)

participants = Table(
    "participants",
    metadata,
    Column("id", Id, primary_key=True),
    Column("handle", String(HANDLE_MAX), nullable=False, unique=True),
    Column("kind", String(12), nullable=False),  # person | system
    Column("preferred_currency", Code),
    Column("language", String(8), nullable=False, server_default="en"),
    Column("frozen", Boolean, nullable=False, server_default="0"),
    Column("role", String(12), nullable=False, server_default="member"),  # member | operator
    Column("listed", Boolean, nullable=False, server_default="0"),  # shown in public period reports
    # Where funders may auto-submit things for this creator: http(s) addresses ending in "/".
    Column("auto_submit_sites", JSON, nullable=False, server_default="[]"),
    Column("created_at", Timestamp, nullable=False),
    CheckConstraint("kind IN ('person', 'system')", name="kind"),
)

# Who gave a person which role, when and from where: one row a change, append-only (triggers refuse
# an UPDATE or DELETE, as on the ledger). Written in the transaction that changes participants.role.
role_changes = Table(
    "role_changes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("participant_id", Id, ForeignKey("participants.id"), nullable=False, index=True),
    Column("role", String(12), nullable=False),  # the role given: member | operator
    Column("actor_id", Id, ForeignKey("participants.id")),  # the operator who gave it; NULL: no participant (the CLI)
    Column("via", String(12), nullable=False),  # cli | api | internal (Python calling the use case itself)
    Column("detail", String(200)),  # where from: the OS user at the CLI, the credential over the API ("token:12")
    Column("created_at", Timestamp, nullable=False),
    CheckConstraint("role IN ('member', 'operator')", name="role"),
)

# Sign-in: secrets are stored hashed (argon2 for passwords, SHA-256 for random tokens).
credentials = Table(
    "credentials",
    metadata,
    Column("participant_id", Id, ForeignKey("participants.id"), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-cased
    Column("email_verified_at", Timestamp),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", String(64)),
    Column("totp_enabled", Boolean, nullable=False, server_default="0"),
    Column("totp_last_step", BigInteger),  # the time step of the last code taken: no code works twice
    Column("updated_at", Timestamp, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("participant_id", Id, ForeignKey("participants.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("participant_id", Id, ForeignKey("participants.id"), nullable=False, index=True),
    Column("name", String(TOKEN_NAME_MAX), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(300), nullable=False),  # space-separated
    Column("created_at", Timestamp, nullable=False),
    Column("last_used_at", Timestamp),
    Column("revoked_at", Timestamp),
)

# A sign-up with a free address, waiting for the link mailed to it (``usecases/identity/pending.py``).
# It holds neither its handle nor its address (no unique constraint: accounts hold them), so that a
# sign-up tells nobody whether an address has an account. Opening its link makes the account and
# deletes every pending sign-up of the address; an expired one is deleted by the next sign-up.
pending_signups = Table(
    "pending_signups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("handle", String(HANDLE_MAX), nullable=False),  # lower-cased
    Column("email", String(320), nullable=False, index=True),  # lower-cased
    Column("password_hash", String(200), nullable=False),
    Column("preferred_currency", Code),
    Column("language", String(8), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False, index=True),  # its link's
)

# The single-use links mailed to people (``usecases/identity/links.py``): each points at an account
# (verify its address, reset its password, move it to a new address) or at a pending sign-up.
email_tokens = Table(
    "email_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("participant_id", Id, ForeignKey("participants.id"), index=True),
    Column("pending_signup_id", Id, ForeignKey("pending_signups.id"), index=True),
    Column("purpose", String(16), nullable=False),  # verify | reset | change
    Column("email", String(320), nullable=False),  # where the link was mailed (for a change, the new address)
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("expires_at", Timestamp, nullable=False),
    Column("used_at", Timestamp),
    CheckConstraint("(participant_id IS NULL) <> (pending_signup_id IS NULL)", name="one_holder"),
)

# Mail to send, written in the transaction that caused it and sent by a worker after the commit
# (``usecases/mail_queue.py``). ``due_at`` is when the row is next due: for a queued row its next try,
# for one being sent the end of its lease (a worker that died mid-send leaves it to be taken again).
# The body may carry a link's secret, so it is erased once the mail is sent or given up.
mail_queue = Table(
    "mail_queue",
    metadata,
    Column("id", Id, primary_key=True),  # also names the mail: its Message-ID and its outbox file
    Column("kind", String(24), nullable=False),  # verify | reset | sign_up_attempt | …: what the mail is for
    Column("to_address", String(320), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text),  # NULL once sent or failed
    Column("status", String(12), nullable=False),  # queued | sending | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),  # tries begun, counted as each is claimed
    Column("due_at", Timestamp, nullable=False),
    Column("claimed_at", Timestamp),  # when the current (or last) try began
    Column("last_error", String(500)),  # why the last try failed, for the operator
    Column("created_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp),
    # A mail that carries a link is worth nothing once the link has expired: not sent after this.
    Column("useless_after", Timestamp),
    CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name="status"),
    Index("ix_mail_queue_status_due_at", "status", "due_at"),
    Index("ix_mail_queue_to_address_kind", "to_address", "kind"),
)

# The first response to each (caller, Idempotency-Key), replayed to later requests.
http_idempotency = Table(
    "http_idempotency",
    metadata,
    Column("id", Id, primary_key=True),
    Column("caller", String(80), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("caller", "key"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("owner_id", Id, ForeignKey("participants.id"), nullable=False),
    Column("purpose", String(12), nullable=False),
    Column("currency", Code, nullable=False),
    Column("floor", Minor),  # NULL: no floor (the outside world, the exchange)
    Column("balance", Minor, nullable=False, server_default="0"),
    UniqueConstraint("owner_id", "purpose", "currency"),
    # The database itself refuses an overdraft, whoever writes.
    CheckConstraint("floor IS NULL OR balance >= floor", name="floor"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("idempotency_key", String(200), unique=True),
    Column("request_hash", String(64)),
    Column("period", PeriodId),
    Column("meta", JSON),
    Column("created_at", Timestamp, nullable=False),
)

postings = Table(
    "postings",
    metadata,
    Column("id", Id, primary_key=True),
    Column("transaction_id", Id, ForeignKey("transactions.id"), nullable=False, index=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("amount", Minor, nullable=False),
    CheckConstraint("amount <> 0", name="nonzero"),
)

things = Table(
    "things",
    metadata,
    Column("id", Id, primary_key=True),
    Column("owner_id", Id, ForeignKey("participants.id"), nullable=False, index=True),
    Column("url", String(MAX_URL), nullable=False, unique=True),
    Column("title", String(TITLE_MAX), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("language", String(8)),
    Column("category", String(CATEGORY_MAX)),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    Column("created_at", Timestamp, nullable=False),
)

thing_tags = Table(
    "thing_tags",
    metadata,
    Column("thing_id", Id, ForeignKey("things.id"), primary_key=True),
    Column("tag", String(TAG_MAX), primary_key=True),
    Index("ix_thing_tags_tag", "tag"),
)

flattrs = Table(
    "flattrs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("period", PeriodId, nullable=False),
    Column("funder_id", Id, ForeignKey("participants.id"), nullable=False),
    Column("thing_id", Id, ForeignKey("things.id"), nullable=False),
    Column("points", Integer, nullable=False),
    Column("source", String(12), nullable=False),  # click | subscription
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("period", "funder_id", "thing_id"),
    CheckConstraint("points > 0", name="points"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("funder_id", Id, ForeignKey("participants.id"), nullable=False),
    Column("thing_id", Id, ForeignKey("things.id"), nullable=False),
    Column("points", Integer, nullable=False),
    Column("periods_left", Integer),  # NULL: until cancelled
    Column("status", String(12), nullable=False),  # active | paused | cancelled | finished
    Column("last_period", PeriodId),  # the last period it was applied to
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("funder_id", "thing_id"),
    CheckConstraint("points > 0", name="points"),
    CheckConstraint("periods_left IS NULL OR periods_left >= 0", name="periods_left"),
)

budgets = Table(
    "budgets",
    metadata,
    Column("funder_id", Id, ForeignKey("participants.id"), primary_key=True),
    Column("currency", Code, primary_key=True),
    Column("amount", Minor, nullable=False),
    CheckConstraint("amount > 0", name="positive"),
)

periods = Table(
    "periods",
    metadata,
    Column("id", PeriodId, primary_key=True),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("status", String(12), nullable=False),  # settling | closed
    Column("give_to_receive", Boolean, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("closed_at", Timestamp),
)

settlements = Table(
    "settlements",
    metadata,
    Column("period", PeriodId, ForeignKey("periods.id"), primary_key=True),
    Column("funder_id", Id, ForeignKey("participants.id"), primary_key=True),
    Column("currency", Code, primary_key=True),
    Column("amount", Minor, nullable=False),  # the budget to take, fixed when the period starts settling
    Column("status", String(12), nullable=False),  # pending | done | returned | no_means
    Column("flattrs", Integer, nullable=False),  # how many flattrs the funder made in the period
    Column("fee", Minor, nullable=False, server_default="0"),
    Column("distributed", Minor, nullable=False, server_default="0"),
    Column("unspent", Minor, nullable=False, server_default="0"),
    Column("transaction_id", Id, ForeignKey("transactions.id")),
    Index("ix_settlements_period_status", "period", "status"),
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("period", PeriodId, nullable=False),
    Column("funder_id", Id, nullable=False),
    Column("currency", Code, nullable=False),
    Column("thing_id", Id, nullable=False),
    Column("creator_id", Id, nullable=False),
    Column("points", Integer, nullable=False),
    Column("share", Minor, nullable=False),
    Column("transaction_id", Id, ForeignKey("transactions.id"), nullable=False),
    Index("ix_receipts_period_funder", "period", "funder_id"),
    Index("ix_receipts_period_creator", "period", "creator_id"),
)

period_totals = Table(
    "period_totals",
    metadata,
    Column("period", PeriodId, ForeignKey("periods.id"), primary_key=True),
    Column("currency", Code, primary_key=True),
    Column("funders", Integer, nullable=False),
    Column("budgets", Minor, nullable=False),
    Column("fees", Minor, nullable=False),
    Column("distributed", Minor, nullable=False),
    Column("unspent", Minor, nullable=False),
    Column("demurrage", Minor, nullable=False),
)

creator_totals = Table(
    "creator_totals",
    metadata,
    Column("period", PeriodId, ForeignKey("periods.id"), primary_key=True),
    Column("currency", Code, primary_key=True),
    Column("creator_id", Id, ForeignKey("participants.id"), primary_key=True),
    Column("earned", Minor, nullable=False),
    Column("funders", Integer, nullable=False),
)

top_ups = Table(
    "top_ups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("funder_id", Id, ForeignKey("participants.id"), nullable=False),
    Column("rail", String(32), nullable=False),
    Column("currency", Code, nullable=False),
    Column("amount", Minor, nullable=False),
    Column("status", String(20), nullable=False),  # a PaymentState
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("rail_reference", String(200)),
    Column("next_action", JSON),
    Column("error", String(500)),
    Column("transaction_id", Id, ForeignKey("transactions.id")),
    Column("created_at", Timestamp, nullable=False),
    Column("fee", Minor),  # what the provider kept, once it said
    Column("updated_at", Timestamp),
    CheckConstraint("amount > 0", name="positive"),
)

withdrawals = Table(
    "withdrawals",
    metadata,
    Column("id", Id, primary_key=True),
    Column("creator_id", Id, ForeignKey("participants.id"), nullable=False),
    Column("rail", String(32), nullable=False),
    Column("currency", Code, nullable=False),
    Column("amount", Minor, nullable=False),
    Column("payout_currency", Code, nullable=False),
    Column("payout_amount", Minor, nullable=False),
    Column("rate", String(40), nullable=False),
    Column("rate_date", Date, nullable=False),
    Column("rate_source", String(32), nullable=False),
    Column("status", String(20), nullable=False),  # a PaymentState
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("rail_reference", String(200)),
    Column("error", String(500)),
    Column("created_at", Timestamp, nullable=False),
    Column("destination", String(200)),  # the creator's account at the provider, as it was when asked
    Column("updated_at", Timestamp),
    CheckConstraint("amount > 0", name="positive"),
)

rail_events = Table(
    "rail_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("rail", String(32), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("type", String(100), nullable=False),
    Column("received_at", Timestamp, nullable=False),
    Column("applied_at", Timestamp),  # None until the operation it names was asked about and recorded
    UniqueConstraint("rail", "event_id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True),
    Column("top_up_id", Id, ForeignKey("top_ups.id"), nullable=False),
    Column("operator_id", Id, ForeignKey("participants.id"), nullable=False),
    Column("amount", Minor, nullable=False),
    Column("status", String(20), nullable=False),  # a PaymentState
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("rail_reference", String(200)),
    Column("error", String(500)),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp),
    CheckConstraint("amount > 0", name="positive"),
)

recoveries = Table(
    "recoveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("top_up_id", Id, ForeignKey("top_ups.id"), nullable=False),
    Column("receipt_id", Id, ForeignKey("receipts.id"), nullable=False),
    Column("creator_id", Id, nullable=False),
    Column("amount", Minor, nullable=False),  # taken back from the creator's earnings for this receipt
    Column("transaction_id", Id, ForeignKey("transactions.id"), nullable=False),
    Column("returned_at", Timestamp),  # the dispute was won: given back
    CheckConstraint("amount > 0", name="positive"),
    Index("ix_recoveries_receipt_id", "receipt_id"),
    Index("ix_recoveries_top_up_id", "top_up_id"),
)

# Where a creator's money goes out through each rail: a Connect account, a PayPal address. Changing one
# asks for the password again and the one-time code, and mails the owner (``usecases/destinations.py``).
payout_destinations = Table(
    "payout_destinations",
    metadata,
    Column("participant_id", Id, ForeignKey("participants.id"), primary_key=True),
    Column("rail", String(32), primary_key=True),
    Column("destination", String(200), nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

# In a demo's database only (``gateway demo``), one row, written once the demo data is loaded: every page then says
# it shows demo data, and the demo loader refuses a database without it that holds anything (``usecases/demo``).
demo_data = Table(
    "demo_data",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("loaded_at", Timestamp, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)
