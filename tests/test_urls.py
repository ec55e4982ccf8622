"""Which addresses are under a creator's sites: the guard of auto-submit."""

from __future__ import annotations

import pytest

from gateway.errors import ValidationError
from gateway.urls import check_thing_url, clean_sites, under_one_of


def test_sites_are_cleaned_to_end_in_a_slash():
    assert clean_sites(["https://Example.org", "http://example.org/blog", "https://example.org/", " https://example.org "]) == [
        "http://example.org/blog/",
        "https://example.org/",
    ]
    assert clean_sites([]) == []


@pytest.mark.parametrize(
    "site",
    [
        "ftp://example.org/",
        "example.org",
        "https:///path",
        "https://example.org/?q=1",
        "https://example.org/#top",
        "https://example.org/" + "a" * 200,
    ],
)
def test_what_is_not_a_site(site):
    with pytest.raises(ValidationError):
        clean_sites([site])


def test_at_most_ten_sites():
    with pytest.raises(ValidationError):
        clean_sites([f"https://example.org/{n}/" for n in range(11)])


@pytest.mark.parametrize(
    "url, under",
    [
        ("https://example.org/", True),
        ("https://example.org", True),
        ("https://EXAMPLE.org/post?id=1", True),
        ("https://example.org/blog/post", True),
        ("https://example.org.evil.example/", False),
        ("https://example.org:8443/", False),
        ("http://example.org/", False),
        ("https://ann.example/comic/1", True),
        ("https://ann.example/comic", True),
        ("https://ann.example/comics/1", False),
        ("https://ann.example/comic/../other", False),
        ("https://ann.example/comic/./1", False),
        ("https://ann.example/comic/%2e%2e/other", False),  # browsers read %2e as "."
        ("https://ann.example/comic/.%2E/other", False),
        ("https://ann.example/comic/..\\other", False),  # and a backslash as "/"
        ("https://ann.example/comic/%C3%A9t%C3%A9", True),
        ("https://example.org@evil.example/", False),
        ("https://ann.example/", False),
    ],
)
def test_under_one_of(url, under):
    assert under_one_of(url, clean_sites(["https://example.org", "https://ann.example/comic"])) is under


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/x y",
        "https://a.example/x\\y",
        "https://a.example/\t",
        "ftp://a.example/",
        "https:///x",
        "a.example/x",
        "https://a.example/" + "x" * 2000,
    ],
)
def test_what_is_not_a_things_address(url):
    with pytest.raises(ValidationError):
        check_thing_url(url)


def test_a_things_address():
    assert check_thing_url("http://a.example") == "http://a.example"
    assert check_thing_url("https://a.example/été?q=1#top") == "https://a.example/été?q=1#top"
