"""Stand-ins for the providers the rails talk to, run in the test process on 127.0.0.1.

A test module takes their fixtures with ``pytest_plugins = ("tests.fakes.stripe_connect",)``.
"""

import pytest

# Their asserts read like the tests' own when they fail (they are imported before pytest would rewrite them).
pytest.register_assert_rewrite("tests.fakes.localstripe", "tests.fakes.stripe_connect")
