"""Reading a clinical table's grade cell as the manifest's grade 1, 2 or 3.

The project grades hepatocellular carcinoma in three classes (``reactkd.GRADES``). Tables write the grade
in several schemes; each maps onto the three classes as follows:

=====================================  =========  ==================================================
written as                             grade      scheme
=====================================  =========  ==================================================
``1`` ``2`` ``3``                      1 2 3      the manifest's own grades
``4``, ``G4``, ``IV``                  3          the fourth, least differentiated grade (below)
``G1`` ``G2`` ``G3``                   1 2 3      WHO / AJCC G-grades (well / moderately / poorly)
``I`` ``II`` ``III`` (``ES III`` …)    1 2 3      Edmondson–Steiner grades [1]
``well`` ``moderately`` ``poorly``     1 2 3      WHO differentiation [2] (``… differentiated``)
``undifferentiated``                   3          the WHO's undifferentiated carcinoma
empty, ``NA``, ``unknown``, ``-`` …    no grade   nothing to parse (named as "no grade given")
=====================================  =========  ==================================================

Edmondson and Steiner graded HCC I–IV [1]; the WHO grades it well, moderately or poorly differentiated
[2], with grade I the well-, II the moderately and III–IV the poorly differentiated tumours. Grade IV
(and G4, undifferentiated) therefore joins grade 3: a three-class model has no fourth class, and the
least differentiated tumours belong with the poorly differentiated ones, never with a better grade.
Anything else does not parse and is named, never guessed: a range (``II-III``), two differentiation
words (``well to moderately``), a two-tier ``low``/``high grade``, a number outside 1–4.

References:
    1. Edmondson HA, Steiner PE. Primary carcinoma of the liver: a study of 100 cases among 48,900
       necropsies. Cancer 1954;7(3):462-503.
    2. WHO Classification of Tumours Editorial Board. Digestive System Tumours, 5th ed. Lyon: IARC;
       2019 (hepatocellular carcinoma: well, moderately and poorly differentiated).
"""

from __future__ import annotations

import re

__all__ = ["parse_grade", "GradeParseError", "MISSING_VALUES"]

MISSING_VALUES = frozenset({"", "na", "n/a", "nan", "none", "null", "unknown", "not available", "-", "--", "?"})
"""Cell values that say "no grade" (the case is then ungraded, not a parse error)."""

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 3}
_NUMBER = {"1": 1, "2": 2, "3": 3, "4": 3}
_CODED = re.compile(r"^(?:(?:edmondson(?:[\s-]*steiner)?|es|who|histologic(?:al)?|tumou?r)\s*)?"
                    r"(?:grade\s*)?[:\s]*(g)?\s*([1-4]|iv|i{1,3})(?:\.0+)?$")
_WORDS = (("undifferentiated", 3), ("well", 1), ("moderate", 2), ("poor", 3))


class GradeParseError(ValueError):
    """A grade cell that none of the schemes reads."""


def parse_grade(value: object) -> int | None:
    """The manifest grade (1, 2 or 3) of a grade cell, or None when the cell says there is none.

    Raises:
        GradeParseError: ``"grade value 'II-III' does not parse …"`` (a range, two differentiation
            words, an unknown scheme).
    """
    text = " ".join(str("" if value is None else value).split()).lower()
    if text in MISSING_VALUES:
        return None
    coded = _CODED.match(text)
    if coded:
        token = coded.group(2)
        if coded.group(1) and not token.isdigit():  # "GII" is no scheme
            raise GradeParseError(_message(value))
        return _NUMBER[token] if token.isdigit() else _ROMAN[token]
    found = set()
    rest = text
    for word, grade in _WORDS:
        if word in rest:
            found.add(grade)
            rest = rest.replace(word, " ")  # "undifferentiated" must not also count as "…differentiated"
    if len(found) == 1 and re.fullmatch(r"[a-z\s\-_/()]*", text) and _only_grade_words(rest):
        return found.pop()
    raise GradeParseError(_message(value))


def _only_grade_words(rest: str) -> bool:
    """What is left of a differentiation phrase once its grade word is taken out: filler words only."""
    filler = {"ly", "differentiated", "differentiation", "hcc", "hepatocellular", "carcinoma", "tumour",
              "tumor", "grade", "type", "d", "diff"}
    return all(w in filler for w in re.split(r"[\s\-_/()]+", rest) if w)


def _message(value: object) -> str:
    return (f"grade value {str(value)!r} does not parse (give 1/2/3, G1–G3, Edmondson–Steiner I–IV, or well / "
            "moderately / poorly differentiated)")
