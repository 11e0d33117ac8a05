"""Federal Register citations in the styles the recorded CSL writes them."""

from __future__ import annotations

import pytest

from bot.ingest.screening.citations import citations, normalise_citation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("83 FR 37423", ("83 FR 37423",)),
        ("78 FR 75485 ", ("78 FR 75485",)),
        ("83 FR  37423", ("83 FR 37423",)),
        ("82 F.R. 48792 10/20/2017", ("82 FR 48792",)),
        ("80.F.R. 1234 9/10/2015", ("80 FR 1234",)),
        ("76 F.R 1234 9/10/11 ", ("76 FR 1234",)),
        (
            "68 F.R. 38290 6/27/03 71 F.R. 38843 7/10/06 72 F.R. 4236 1/30/07",
            ("68 FR 38290", "71 FR 38843", "72 FR 4236"),
        ),
        (
            "66 FR 24266 (5/14/2001), 77 FR 58006 (9/19/2012), 81 FR 64694 (9/20/2016)",
            ("66 FR 24266", "77 FR 58006", "81 FR 64694"),
        ),
        (
            "66 FR 24266, 77 FR 58006 (no. 182), 81 FR 64694",
            ("66 FR 24266", "77 FR 58006", "81 FR 64694"),
        ),
        ("83 FR 37423; 87 FR 77505", ("83 FR 37423", "87 FR 77505")),
        ("79 F.R. 56003, 56004 9/18/2014", ("79 FR 56003", "79 FR 56004")),
        ("83 FR 37423, 83 FR 37423", ("83 FR 37423",)),
        # An issue and no page: not a citation.
        ("Vol. 88, No. 151, 08/08/2023", ()),
        ("Notice 2061, Vol. 59, No. 165, 8/26/94", ()),
        ("", ()),
    ],
)
def test_styles_of_the_recorded_list(text: str, expected: tuple[str, ...]) -> None:
    assert citations(text) == expected


def test_normalise_one() -> None:
    assert normalise_citation("89 F.R. 1064") == "89 FR 1064"
    assert normalise_citation("89 FR 1064; 90 FR 2") is None
    assert normalise_citation("no citation") is None


def test_not_text_and_huge_text() -> None:
    assert citations(None) == ()
    assert citations("83 FR 1 " * 100_000)[:1] == ("83 FR 1",)
