"""Callers' names as recognition writes them: spelled letters, corrections, and words that
cannot be names.

Recognition hears a name it does not know as the nearest common word ("Park" as "Mark",
"Ito" as "Eat oh"), so a name that is an everyday word, or one lone syllable, is asked
to be spelled; spelled letters ("P-A-R-K", "P, A, R, K") are read back into the name.
"""

from __future__ import annotations

import re

# Words that are not names on their own, chosen from what recognition puts in place of a
# name it does not know. Surnames that are also words (Park, Stone, King, Baker, Young,
# Webb, Fox) are deliberately not here: alone they are rare misreadings.
_COMMON_TEXT = """
work game date time name day week call phone number book booking appointment thing
things stuff way place home house office room door table chair car bus train ticket
money cash card bank check cheque bill price cost deal job life world water food coffee
tea milk bread cake pizza beer wine dinner lunch breakfast morning night evening today
tomorrow yesterday week month year hour minute second moment please thanks thank sorry
hello hi hey bye goodbye yes yeah yep no nope okay ok sure fine good great nice bad
right wrong left correct true false maybe perhaps well just only also too very really
here there where when what which who whom whose why how this that these those it its
the a an and or but if then so because than as of at in on to for from by with about
into over under again more most less least much many some any all none every each both
one two three four five six seven eight nine ten eleven twelve hundred thousand first
last next new old big small long short high low hot cold warm cool happy sad busy free
open closed close done ready sick hurt pain tooth teeth cleaning checkup visit doctor
dentist nurse help need want like love hate know think say said tell told ask asked
go going gone come coming came get got make made take took see saw look looking find
found give gave keep let put run walk talk speak hear heard listen wait stop start end
try use used work working play read write sit stand stay live die eat drink sleep buy
sell pay send bring carry hold turn move change cancel move nothing something anything
everything someone anyone everyone nobody somebody anybody okay alright actually
exactly basically probably definitely absolutely literally sir madam mister miss hmm um
uh er ah oh wow yay what's that's it's i'm you're we're they're can't don't won't
"""
COMMON_WORDS = frozenset(_COMMON_TEXT.split())
# Runs of single letters: "P A R K", "P-A-R-K", "P, A, R, K", "P.A.R.K."
_SPELLED_RUN = re.compile(r"(?<![\w'’])[A-Za-z](?:(?:\s*[-,.]+\s*|\s+)[A-Za-z]\b)+\.?")
_RUN_BREAK = re.compile(r"[,;:]\s*(?=[A-Za-z]\b)|\.\s+(?=[A-Za-z]\b)"
                        r"|(?<=[A-Za-z])\s+(?=[A-Za-z]-[A-Za-z])")


def spelled_words(text: str) -> list[str]:
    """Words the caller spelled out, capitalised: "L E E, P A R K" → ["Lee", "Park"].

    Only upper-case letters count (recognition writes spelled letters that way), so "a"
    and "i" in a sentence are never taken for spelling.
    """
    words: list[str] = []
    said = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", _SPELLED_RUN.sub(" ", text))}
    for run in _SPELLED_RUN.finditer(text):
        letters_all = re.findall(r"[A-Za-z]", run[0])
        if sum(ch.isupper() for ch in letters_all) < max(2, len(letters_all) - 1):
            continue
        # A comma or a full stop between letter groups separates two spelled words only
        # when each group is longer than one letter ("L E E, P A R K").
        pieces = [p for p in _RUN_BREAK.split(run[0]) if re.search(r"[A-Za-z]", p)]
        groups = [re.findall(r"[A-Za-z]", p) for p in pieces]
        whole = "".join(ch for g in groups for ch in g).lower()
        if len(groups) > 1 and (any(len(g) < 2 for g in groups) or whole in said):
            groups = [[ch for g in groups for ch in g]]  # "P.A., R.K." after "Park"
        for g in groups:
            if len(g) >= 2:
                words.append("".join(g).capitalize())
    return words


def plausible(name: str) -> bool:
    """False for what cannot be a person's name: an everyday word alone, one syllable of
    one or two letters, or a name that is all everyday words."""
    words = [w.strip(".'-").lower() for w in name.split()]
    words = [w for w in words if w and w not in {"dr", "mr", "mrs", "ms", "miss", "mx", "prof"}]
    if not words:
        return False
    if len(words) == 1:
        return len(words[0]) > 2 and words[0] not in COMMON_WORDS
    return not all(w in COMMON_WORDS for w in words) and words[0] not in COMMON_WORDS


def _distance(a: str, b: str) -> int:
    """Levenshtein distance, case-insensitive."""
    a, b = a.lower(), b.lower()
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def corrected(current: str | None, new: str | None, spelled: list[str]) -> str | None:
    """The name after a turn that gave ``new`` and/or ``spelled`` words.

    A spelled word replaces the word of the name it is closest to ("Linda Mark" and
    "P A R K" → "Linda Park"); as many spelled words as the name has words replace it
    whole. A one-word name said as a correction replaces the closest word the same way.
    """
    base = current
    if new:
        base = _merge(current, new) if (
            current and len(new.split()) == 1 and len(current.split()) > 1
            and min(_distance(w, new) for w in current.split()) <= max(2, len(new) // 2)
        ) else new
    if not spelled:
        return base
    if base is not None and len(spelled) == 1 and len(base.split()) == 2 and len(spelled[0]) >= 6:
        split = _split_run(spelled[0], base.split())
        if split:
            return " ".join(split)
    if base is None or len(spelled) > 1:
        return " ".join(spelled) if base is None or len(spelled) >= len(base.split()) \
            else _merge_all(base, spelled)
    return _merge(base, spelled[0])


def _split_run(run: str, words: list[str]) -> list[str] | None:
    """A first and last name spelled as one run of letters ("A-N-A-L-O-P-E-Z"), split
    where both halves come closest to the two words heard ("Anil Lopez" → Ana Lopez)."""
    best: tuple[int, int] | None = None
    for cut in range(2, len(run) - 1):
        cost = _distance(run[:cut], words[0]) + _distance(run[cut:], words[1])
        if best is None or cost < best[0]:
            best = (cost, cut)
    if best is None or best[0] > len(run) // 2:
        return None
    cut = best[1]
    return [run[:cut].capitalize(), run[cut:].capitalize()]


def _merge_all(name: str, words: list[str]) -> str:
    for word in words:
        name = _merge(name, word)
    return name


def _merge(name: str, word: str) -> str:
    parts = name.split()
    if len(parts) == 1:
        return word
    closest = min(range(len(parts)), key=lambda i: (_distance(parts[i], word), -i))
    if _distance(parts[closest], word) > max(2, len(word) // 2):
        closest = len(parts) - 1  # nothing alike: a caller correcting one word means the surname
    parts[closest] = word
    return " ".join(parts)
