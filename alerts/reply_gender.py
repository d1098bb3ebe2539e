"""The grammatical gender a Polish text reveals about its writer, so a formal reply can say Pani or Pan.

Polish marks the speaker's gender in the first person of the past tense and of the conditional
("zamówiłam" / "zamówiłem", "chciałabym" / "chciałbym") and in adjectives the writer says of themself
("jestem zadowolona" / "jestem zadowolony"). Nothing else in a review says it reliably: names are not
shown on every source, and a name is no promise of how someone wants to be addressed.

Why so careful: addressing a woman as "Panie" (or a man as "Pani") is worse than the neutral form, so
the detector answers only when the text is clear. It returns ``None`` (use the neutral form) when no
signal is found and when female and male signals are both present (a couple writing together, a quote,
a typo). It ignores text in quotation marks and what the writer reports someone else said ("mąż
napisał: byłem..."), third-person forms ("żona zamówiła" has no first-person ending at all), and the
many nouns whose instrumental case ends like a masculine verb ("z działem obsługi", "z hasłem",
"z personelem"). Texts typed without Polish letters ("zamowilam", "bylem") are read too, with a stricter
pattern, since "-lam"/"-lem" also end ordinary words ("reklam", "problem", "celem").

Pure functions: no model, no I/O; the reply builder reads the text only to pick a form, never to quote it.
"""

from __future__ import annotations

import re
from typing import Final, Literal

__all__ = ["Gender", "writer_gender"]

Gender = Literal["female", "male"]

_MAX_CHARS: Final = 5_000  # a review's head says it; keeps the regexes' work bounded
_QUOTED = re.compile(r"„[^”\"“]*[”\"“]|“[^”]*”|\"[^\"]*\"|«[^»]*»|»[^«]*«|^\s*>.*$", re.MULTILINE)
# What someone else said, reported after a colon: "mąż napisał: byłem zadowolony".
_REPORTED = re.compile(
    r"\b(?:powiedzia|napisa|odpisa|stwierdzi|twierdzi|odpowiedzia|doda|zapyta|krzycza|m[óo]wi|pisa)"
    r"(?:ł|l)(?:a|o|y|i)?\s*:[^.!?\n]*",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+")

# First person singular, past tense: the ending after the stem's "ł".
_FEMALE_PAST = re.compile(r"^(?P<stem>[^\W\d_]{2,})łam$")
_MALE_PAST = re.compile(r"^(?P<stem>[^\W\d_]{2,})łem$")
# Conditional: "chciałabym" / "chciałbym", "byłabym" / "byłbym" (with or without Polish letters).
_FEMALE_COND = re.compile(r"^[^\W\d_]{2,}[łl]abym$")
_MALE_COND = re.compile(r"^[^\W\d_]{2,}[łl]bym$")
# Without Polish letters: a vowel before "lam"/"lem" ("zamowilam", "bylem", "czekalam", "wzielam").
_FEMALE_ASCII = re.compile(r"^(?P<stem>[a-z]{2,}[aeiy])lam$")
_MALE_ASCII = re.compile(r"^(?P<stem>[a-z]{2,}[aiy])lem$")
# Stems ending in a consonant before "ł" that are verbs ("szedłem", "mogłam", "znalazłem", "jadłam").
_CONSONANT_VERB = re.compile(
    r"(?:szed|sz|mog|jad|nios|wioz|bieg|ros|piek|tłuk|tluk|wlok|mar|laz|gryz|krad|pad|siad|kład|klad"
    r"|strzyg|mok|schn|rz|wiod|wiedz|legł|leg|przysi[ąa]g|zaprz[ąa]g|trz[ąa]s|tarł|tar|dar|par|wdar)$"
)
# Masculine verbs never end in "-ołem" or "-ełem"; "-ułem" only in these ("czułem", "zepsułem").
_U_VERBS: Final = frozenset({"czu", "poczu", "psu", "zepsu", "popsu", "snu", "kłu", "klu", "ukłu", "uklu"})
# Nouns whose instrumental looks like a first-person verb; never counted.
_NOUNS: Final = frozenset(
    {
        "działem",
        "dzialem",
        "udziałem",
        "udzialem",
        "materiałem",
        "materialem",
        "kanałem",
        "kanalem",
        "zapałem",
        "zapalem",
        "upałem",
        "upalem",
        "michałem",
        "michalem",
        "rafałem",
        "rafalem",
        "wałem",
        "szałem",
        "szalem",
        "portalem",
        "szpitalem",
        "lokalem",
        "detalem",
        "metalem",
        "finałem",
        "finalem",
        "kapitałem",
        "kapitalem",
        "personalem",
        "rytuałem",
        "rytualem",
        "ideałem",
        "idealem",
        "przedziałem",
        "przedzialem",
        "oddziałem",
        "oddzialem",
        "podziałem",
        "podzialem",
        "tyłem",
        "tylem",
        "pyłem",
        "pylem",
        "islam",
        "salam",
        "kilem",
        "stylem",
        "żyłem",
        "makijażem",
        "tribunalem",
        "trybunałem",
        "trybunalem",
        "generałem",
        "generalem",
        "admirałem",
        "kryształem",
        "krysztalem",
        "sandałem",
        "sandalem",
        "pedałem",
        "pedalem",
        "skandalem",
        "festiwalem",
        "terminalem",
        "kanibalem",
        "totalem",
        "hasłem",
        "masłem",
        "krzesłem",
        "wiosłem",
        "węzłem",
        "orłem",
        "osłem",
        "posłem",
        "kozłem",
        "pudłem",
        "mydłem",
        "źródłem",
        "światłem",
        "szkłem",
        "rzemiosłem",
        "kółkiem",
        "hasłam",
        "nosidłem",
        "liczydłem",
        "siedliskiem",
        "czołem",
        "kołem",
        "stołem",
        "dołem",
        "zespołem",
    }
)
# Words that stand for another person: an adjective right after one of them is about that person.
_OTHERS: Final = frozenset(
    {
        "żona",
        "zona",
        "mąż",
        "maz",
        "córka",
        "corka",
        "syn",
        "mama",
        "tata",
        "matka",
        "ojciec",
        "siostra",
        "brat",
        "babcia",
        "dziadek",
        "teściowa",
        "tesciowa",
        "teść",
        "tesc",
        "dziecko",
        "koleżanka",
        "kolezanka",
        "kolega",
        "przyjaciółka",
        "przyjaciolka",
        "przyjaciel",
        "partner",
        "partnerka",
        "narzeczona",
        "narzeczony",
        "dziewczyna",
        "chłopak",
        "chlopak",
        "sąsiadka",
        "sasiadka",
        "sąsiad",
        "sasiad",
        "ona",
        "on",
        "kurier",
        "kurierka",
        "pani",
        "pan",
        "sprzedawca",
        "sprzedawczyni",
        "konsultant",
        "konsultantka",
        "obsługa",
        "obsluga",
        "jest",
        "był",
        "byl",
        "była",
        "byla",
        "było",
        "bylo",
        "będzie",
        "bedzie",
        "została",
        "zostala",
        "został",
        "zostal",
        "wydaje",
        "są",
        "sa",
    }
)
# Words that say the adjective after them is the writer's own ("jestem zadowolona", "czuję się oszukany").
_SELF: Final = frozenset(
    {
        "jestem",
        "byłam",
        "bylam",
        "byłem",
        "bylem",
        "zostałam",
        "zostalam",
        "zostałem",
        "zostalem",
        "czuję",
        "czuje",
        "się",
        "sie",
        "będę",
        "bede",
        "jako",
    }
)
# Words between a subject and its adjective that say nothing about whose it is.
_ADVERBS: Final = frozenset(
    {
        "bardzo",
        "mega",
        "super",
        "naprawdę",
        "naprawde",
        "totalnie",
        "całkowicie",
        "calkowicie",
        "ogromnie",
        "strasznie",
        "nie",
        "wciąż",
        "wciaz",
        "nadal",
        "trochę",
        "troche",
        "mocno",
        "niezwykle",
        "szczerze",
        "kompletnie",
        "zupełnie",
        "zupelnie",
        "wielce",
        "średnio",
        "srednio",
        "niestety",
        "dość",
        "dosc",
        "raczej",
        "bardziej",
        "mniej",
        "tak",
        "taka",
        "taki",
        "wyjątkowo",
        "wyjatkowo",
        "absolutnie",
        "już",
        "juz",
        "też",
        "tez",
        "również",
        "rowniez",
    }
)
# Self-describing adjective stems; "-a" is female, "-y" male ("zadowolon-a", "rozczarowan-y").
_ADJECTIVE = re.compile(
    r"^(?:nie)?(?P<stem>zadowolon|zawiedzion|rozczarowan|zachwycon|oszukan|wkurzon|zdenerwowan"
    r"|usatysfakcjonowan|zaskoczon|zniesmaczon|zirytowan|wściekł|wsciekl|obsłużon|obsluzon|potraktowan"
    r"|zmuszon|pewn|przekonan|zaniepokojon|zmartwion|załaman|zalaman|poinformowan|zostawion|olan"
    r"|ignorowan|zignorowan|okłaman|oklaman|zadowolon|szczęśliw|szczesliw|wdzięczn|wdzieczn)(?P<end>a|y)$"
)
# "Jako stała klientka", "jestem klientem": the writer names themself.
_CLIENT: Final[dict[str, Gender]] = {
    "klientka": "female",
    "klientką": "female",
    "klient": "male",
    "klientem": "male",
}
_CLIENT_LEAD: Final = frozenset({"jako", "jestem", "byłam", "bylam", "byłem", "bylem"})
# Prepositions taking the instrumental: "z działem", "pod stołem"; a "-łem" word after one is a noun.
_INSTRUMENTAL: Final = frozenset({"z", "ze", "przed", "pod", "nad", "za", "między", "miedzy"})


def _verb_gender(word: str) -> Gender | None:
    """The gender a first-person past or conditional verb form shows; None for any other word."""
    if word in _NOUNS:
        return None
    if _FEMALE_COND.match(word):
        return "female"
    if _MALE_COND.match(word):
        return "male"
    female = _FEMALE_PAST.match(word)
    if female:
        stem = female["stem"]
        if stem[-1] in "aeiyąęuoó" or _CONSONANT_VERB.search(stem):
            return "female"
        return None
    male = _MALE_PAST.match(word)
    if male:
        stem = male["stem"]
        if stem[-1] in "aiyą" or _CONSONANT_VERB.search(stem) or stem in _U_VERBS or _u_verb(stem):
            return "male"
        return None
    if _FEMALE_ASCII.match(word):
        return "female"
    ascii_male = _MALE_ASCII.match(word)
    if ascii_male:
        return "male"
    if word.endswith("ulem") and _u_verb(word[:-3]):
        return "male"
    return None


def _u_verb(stem: str) -> bool:
    """``czu``/``psu``/... with any prefix ("poczu", "zepsu"): the few verbs with "-ułem"."""
    return any(stem.endswith(v) for v in ("czu", "psu", "snu", "kłu", "klu"))


def _adjective_gender(words: list[str], index: int) -> Gender | None:
    """The gender of a self-describing adjective at ``index``, when the words before make it the writer's."""
    match = _ADJECTIVE.match(words[index])
    if not match:
        return None
    back = index - 1
    while back >= 0 and words[back] in _ADVERBS:
        back -= 1
    if back >= 0 and words[back] in _OTHERS:
        return None
    # The writer's own: after "jestem"/"czuję się"/..., or opening a sentence ("Bardzo zadowolona!").
    if back < 0 or words[back] in _SELF or words[back] == "\n":
        return "female" if match["end"] == "a" else "male"
    return None


def _words(text: str) -> list[str]:
    """Lower-case words with a ``"\\n"`` marker where a sentence ends (so "start of sentence" is visible)."""
    out: list[str] = []
    for sentence in re.split(r"[.!?;\n]+", text):
        out.append("\n")
        out.extend(w.lower() for w in _WORD.findall(sentence))
    return out


def writer_gender(text: str) -> Gender | None:
    """``female`` or ``male`` when the Polish ``text`` says its writer's gender unambiguously, else None.

    Counts first-person past/conditional verbs and self-describing adjectives outside quotes and reported
    speech; both genders present (or neither) gives None, i.e. the neutral form.
    """
    text = _REPORTED.sub(" ", _QUOTED.sub(" ", text[:_MAX_CHARS]))
    words = _words(text)
    found: set[Gender] = set()
    for index, word in enumerate(words):
        if word == "\n":
            continue
        gender = _verb_gender(word) or _adjective_gender(words, index)
        if gender == "male" and index > 0 and words[index - 1] in _INSTRUMENTAL:
            gender = None  # "z działem", "pod stołem": a noun's instrumental, not a verb
        if gender is None and word in _CLIENT:
            before = words[max(0, index - 3) : index]
            if _CLIENT_LEAD.intersection(before):
                gender = _CLIENT[word]
        if gender is not None:
            found.add(gender)
            if len(found) > 1:
                return None
    return next(iter(found)) if found else None
