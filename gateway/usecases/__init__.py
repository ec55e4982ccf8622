"""Use cases: what funders, creators and operators do, each in its own module."""
