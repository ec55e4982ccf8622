"""The demo data: made-up people, things and money that show every page of the product at work.

``load_demo`` puts them into an empty database through the use cases, as
people would through the pages (sign-ups whose mailed links are opened,
top-ups through the sandbox rail, budgets, flattrs, a subscription, a
settlement), and marks the database as a demo's (``mark``). The mark is
what every page's banner and the loader's refusals read: the demo data
never goes into a database that holds anything else.
"""

from gateway.usecases.demo.content import ACCOUNTS, PASSWORD
from gateway.usecases.demo.load import DemoData, load_demo
from gateway.usecases.demo.mark import is_demo_database

__all__ = ["ACCOUNTS", "PASSWORD", "DemoData", "is_demo_database", "load_demo"]
