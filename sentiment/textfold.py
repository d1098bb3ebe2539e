"""One answer to "is this the same word, whatever the case and the Polish letters?".

Customers type "PRZESYŁKA", "przesylka" and "Przesyłka" for one word. Alert keywords, the aspect lexicon
and the training-data leakage guard each need to treat those as equal, and each once had its own rule for
it, so a keyword could match where the lexicon did not. :func:`fold` is the one rule. Standard library
only: the alert layer imports it without pulling in numpy or the model.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["fold"]

# Letters with a stroke have no Unicode decomposition, so NFKD leaves them alone; fold them by hand.
_STROKES: Final = str.maketrans({"ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ø": "o", "Ø": "o"})


def fold(text: str) -> str:
    """``text`` case-folded and without diacritics: "Reklamację", "REKLAMACJE" and "reklamacje" fold equal.

    NFKD with combining marks dropped (compatibility forms become plain letters: "𝓐" → "a", "ﬁ" → "fi"),
    then ``str.casefold`` ("ß" → "ss"), marks dropped once more ("İ" → "i"), and ``ł``/``đ``/``ø``
    (no decomposition) mapped to ``l``/``d``/``o``. Nothing else changes: spaces and punctuation stay.

    Every character folds on its own, so ``fold(a + b) == fold(a) + fold(b)``: a word is found in a folded
    text wherever it stands. The result may differ in length from ``text`` (``"ß"`` → ``"ss"``, a lone
    combining mark → ``""``); it is never longer than the NFKD form of ``text.casefold()``. Folding twice
    changes nothing.
    """
    return _strip_marks(_strip_marks(text).casefold()).translate(_STROKES)


def _strip_marks(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
