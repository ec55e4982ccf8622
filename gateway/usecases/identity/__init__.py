"""Sign-in identities: the people behind participants, and how they prove who they are.

Not the ledger's accounts (``gateway.core.accounts``). One module a concept:
signing up, the pending sign-ups that wait for their link, the handles and
addresses that accounts hold, the links mailed to people, passwords,
sessions, personal access tokens, two-factor codes, the profile and roles. Every secret is stored
hashed (``gateway.security``); the slow parts, argon2 and mail, run outside
database transactions, so a sign-in never holds SQLite's write lock while it
hashes.
"""
