"""Urgency of a mention, read apart from its sentiment: what a customer-service lead must see first.

A polite "I have passed this to my lawyer" is more urgent than a furious "worst pizza ever", so urgency is
a separate reading from a lexicon of Polish and English phrases, plus what the caller knows about the
author (reach, earlier complaints). No model, no download: a few regular expressions compiled once, run on
every mention.

Policy (the severity a reason implies on its own):

======================  ===============================================================  ==========
reason                  examples                                                         severity
======================  ===============================================================  ==========
``legal_threat``        prawnik, pozew / pozwę, do sądu, lawyer, sue, small claims       critical
``health_safety``       zatrucie, poparzenie, zapaliło się, food poisoning, caught fire  critical
                        (expired / mouldy food, rash, swollen battery, "unsafe")         elevated
``data_leak``           wyciek danych, cudze dane, UODO, data breach, account hacked     critical
                        (bare mention of RODO / GDPR / personal data)                    elevated
``public_escalation``   policja, prokuratura, police                                     critical
                        UOKiK, rzecznik konsumentów, chargeback, do mediów, journalist   elevated
``fraud_scam``          oszustwo, oszuści, złodzieje, scam, stolen, counterfeit          elevated
                        ... with sentiment score <= -0.5 or with high reach              critical
``repeated_complaint``  ``prior_complaints >= 2``, "piszę już trzeci raz", "writing     elevated
                        again" (a repeat word needs a complaint verb: "zamówię
                        ponownie" / "will order again" is praise, not a repeat)
``high_reach``          ``reach >= high_reach_threshold``, "mam 50 tys. obserwujących"  elevated
======================  ===============================================================  ==========

Combining: the highest severity wins, and two or more *different* elevated reasons together are critical
(a fraud claim that is also a third complaint is worse than either).

Negation is deliberately simple: a phrase with a negator shortly before it in the same clause ("nie",
"nigdy", "bez", "not", "never", "-n't", "no", "without"; at most two words between for "nie"/"not"/
"never"/"-n't", none for the others) is still reported, since "I don't want to sue, but..." is still a
threat, but only as ``elevated``, and it neither escalates fraud nor counts towards the two-reasons rule.
When the sentiment is positive (score > 0) a negated phrase is dropped ("nie uczula, polecam"); fraud words
in a clearly positive text (score >= 0.5) are dropped too ("bałam się, że to oszustwo, ale wszystko doszło").

Inflection: Polish patterns match stems with an ending wildcard (``prawni[kc]\\w*``) or the listed endings
where a bare stem would catch other words (``pozw-`` also starts *pozwolić*, so only the forms of *pozew*
and *pozwać* are listed). Every Polish letter in a pattern also accepts its plain twin (ą/a, ł/l, ...)
because many customers type without diacritics, except where the plain form is another word: *sąd* (court)
written *sad* is English "sad" or Polish "orchard", so it needs its diacritic or a court context
("do sadu", "przed sadem", "sprawa w sadzie"); "sądzę" (I think) is not a court.

Hostile input never raises: lone surrogates become U+FFFD, HTML tags are blanked, entities decoded, and only
the first and last 20,000 characters are read, because threats open or close a complaint and a pasted
1 MB log must not cost a second per mention. Evidence is always a slice of the (sanitised) input.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

UrgencyLevel = Literal["none", "elevated", "critical"]
REASONS: Final[tuple[str, ...]] = (
    "legal_threat",
    "health_safety",
    "fraud_scam",
    "data_leak",
    "public_escalation",
    "repeated_complaint",
    "high_reach",
)
STRONG_NEGATIVE: Final = -0.5
"""Sentiment score (p(positive) - p(negative)) at or below which a fraud claim is critical."""
CLEARLY_POSITIVE: Final = 0.5
"""Sentiment score at or above which fraud words are the "I feared a scam, but it was fine" story."""
REPEATED_COMPLAINTS: Final = 2
"""``prior_complaints`` at or above which the author counts as a repeated complainant."""
SCAN_HEAD: Final = 20_000
SCAN_TAIL: Final = 20_000
MAX_EVIDENCE: Final = 80

_RANK: Final[dict[UrgencyLevel, int]] = {"none": 0, "elevated": 1, "critical": 2}
_POLISH_TWINS: Final = {
    "ą": "[ąa]",
    "ć": "[ćc]",
    "ę": "[ęe]",
    "ł": "[łl]",
    "ń": "[ńn]",
    "ó": "[óo]",
    "ś": "[śs]",
    "ź": "[źz]",
    "ż": "[żz]",
}


@dataclass(frozen=True)
class UrgencyReason:
    """Why a mention is urgent: ``code`` from :data:`REASONS`, the words that said so, their own severity."""

    code: str
    evidence: str
    severity: UrgencyLevel


@dataclass(frozen=True)
class Urgency:
    """A mention's urgency level and its reasons, most severe first."""

    level: UrgencyLevel
    reasons: tuple[UrgencyReason, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form stored with the score and shown by ``model predict``."""
        return {
            "level": self.level,
            "reasons": [
                {"code": r.code, "evidence": r.evidence, "severity": r.severity} for r in self.reasons
            ],
        }


# --- lexicon -------------------------------------------------------------------------------------------
# Patterns are written lower-case (the text is NFKC-normalised and casefolded), a space means "any
# whitespace", and each whole pattern must start and end on a word boundary. ``_loose`` patterns also
# accept Polish letters without their diacritics; ``_strict`` ones do not.


def _loose(*patterns: str) -> tuple[str, ...]:
    """Let each Polish letter match its plain twin too: "oszusci" is how many people type "oszuści"."""
    return tuple("".join(_POLISH_TWINS.get(ch, ch) for ch in p) for p in patterns)


def _strict(*patterns: str) -> tuple[str, ...]:
    """Keep the diacritics: for words whose plain spelling is another word (sąd / sad)."""
    return patterns


_LEXICON: Final[dict[str, dict[UrgencyLevel, tuple[str, ...]]]] = {
    "legal_threat": {
        "critical": (
            *_loose(
                r"prawni[kc]\w*",
                r"adwoka[tc]\w*",
                r"radc\w* prawn\w*",
                r"mecenas\w*",
                r"kancelari\w*",
                r"poz(?:ew|wy|wu|wem|wów|wami|wach|wać|wę|wiesz|wie|wiemy|wiecie|wą|wali|wan\w*|wij\w*)",
                r"pozyw\w*",
                r"zaskarż\w*",
                r"do sądu",
                r"przed sądem",
                r"(?:spotkamy się|widzimy się|sprawa|sprawę|sprawy|sprawą) w sądzie",
                r"sąd\w* (?:rejonow|okręgow|polubown|konsumenck|najwyższ|gospodarcz)\w*",
                r"(?:drog|postępowani|spraw|nakaz|wyrok)\w* sądow\w*",
                r"przedsądow\w*",
                r"(?:drog|krok|konsekwencj|postępowani|środk)\w* prawn\w*",
                r"lawyer\w*",
                r"attorney\w*",
                r"solicitor\w*",
                r"legal (?:action|proceedings|steps|team|advice|counsel|route|claim|case|notice)",
                r"law ?suits?",
                r"su(?:ing|ed)",
                r"sue (?:you|u|ya|them|him|her|the \w+|your|this|for|over|every\w*)",
                r"(?:will|'ll|’ll|going to|gonna|threaten\w* to|have to|right to|and) sue",
                r"small claims?",
                r"(?:to|in) court",
                r"court (?:case|claim|action|order|proceedings)",
                r"class action",
                r"cease and desist",
                r"letter before action",
                r"litigat\w*",
            ),
            # "pozwał" without its ł is "pozwal-", the start of "pozwalać" (to allow).
            *_strict(r"sąd(?:u|zie|em|owi|y|ów|om|ach|ami|ow\w*)?", r"pozwał\w*"),
        ),
    },
    "health_safety": {
        "critical": _loose(
            r"zatru(?:ci|ł|t|ć|j|w)\w*",
            r"poparz\w*",
            r"oparz\w*",
            r"reakcj\w* alergiczn\w*",
            r"alergiczn\w* reakcj\w*",
            r"wstrząs\w* anafilaktyczn\w*",
            r"anafilak\w*",
            r"uczuli(?:ł|ło|ła|li|ć)\w*",
            r"uczula\w*",
            r"uczuleni\w*",
            r"wybuch(?:ł|ła|ło|ły|li|nął|nęła|nęło|nęły|nie|nąć|a|ają)",
            r"wybuch(?:u|em)? (?:\w+ )?(?:baterii|akumulator\w*|telefon\w*|ładowark\w*|butl\w*|urządzeni\w*|powerbank\w*)",
            r"eksplod\w*",
            r"zapalił(?:a|o|y)? się",
            r"zapaliły się",
            r"zaj(?:ął|ęła|ęło|ęły) się ogniem",
            r"(?:stanął|stanęła|stanęło|stanęły) w płomieniach",
            r"pożar(?:u|em|ze|y|ów|owo|ow\w*)?",
            r"(?:poszedł|poszła|pojawił\w* się|pojawiła się|wydobywa\w* się|wydobył\w* się|leci|leciał\w*|buchn\w*|"
            r"bucha\w*) (?:\w+ )?(?:ogień|płomie\w*|dym\w*|iskr\w*)",
            r"dymi(?:ą|ć|ł\w*)?",
            r"iskrz\w*",
            r"iskr(?:a|y|ami)",
            r"poraż\w* prąd\w*",
            r"(?:porazi|kopn)\w* (?:mnie |go |ją |je |dziecko )?prąd\w*",
            r"prąd (?:mnie |go |ją |dziecko )?(?:porazi|kopn)\w*",
            r"szpital\w*",
            r"pogotowi\w*",
            r"karetk\w*",
            r"(?:na|z) sor\w*",
            r"zadławi\w*",
            r"udławi\w*",
            r"zakrztusi\w*",
            r"skaleczy\w*",
            r"skaleczeni\w*",
            r"zrani(?:ł|ło|ła|li|ć|on|eni)\w*",
            r"obraże\w* ciała",
            r"uszczerb\w* na zdrowiu",
            r"zagroże\w* (?:dla )?(?:życia|zdrowia)",
            r"zagraża\w* (?:życiu|zdrowiu)",
            r"niebezpieczn\w* dla (?:dzieci|dziecka|zdrowia|życia)",
            r"krwawi\w*",
            r"krwotok\w*",
            r"wymiot\w*",
            r"biegunk\w*",
            r"food poisoning",
            r"poison\w*",
            r"allergic reactions?",
            r"anaphyla\w*",
            r"injur\w*",
            r"hurt (?:my|me|him|her|them|our|the (?:child|baby|kid)|myself|himself|herself|themselves)",
            r"burn(?:ed|t|s)? (?:my|me|him|her|his|our|their|the (?:child|baby|kid)|myself|himself|herself|skin)",
            r"(?:got|was|were|been|i) burn(?:ed|t)",
            r"(?:severe|serious|bad|nasty) burns?",
            r"caught (?:on )?fire",
            r"burst into flames",
            r"in flames",
            r"fire hazard",
            r"(?:started|start|caused|causing) a fire",
            r"explod\w*",
            r"explosion\w*",
            r"smoke (?:came|coming|pouring|everywhere)",
            r"(?:started|began|starts) smoking",
            r"sparks? (?:came|flew|from|out|everywhere)",
            r"spark(?:ed|ing)",
            r"electric(?:al)? shocks?",
            r"electrocut\w*",
            r"chok(?:e|ed|es) on",
            r"choking",
            r"hospitals?",
            r"hospitali[sz]ed",
            r"emergency room",
            r"a ?& ?e",
            r"ambulance\w*",
            r"paramedic\w*",
            r"bleed\w*",
            r"vomit\w*",
            r"diarrh?o?ea",
        ),
        "elevated": _loose(
            r"alergi[aięą]",
            r"wysypk\w*",
            r"pokrzywk\w*",
            r"opuchl\w*",
            r"obrzęk\w*",
            r"niebezpieczn\w*",
            r"toksyczn\w*",
            r"przeterminowan\w*",
            r"po (?:terminie|dacie) (?:ważności|przydatności)",
            r"spleśnia\w*",
            r"pleś(?:ń|ni|nią)",
            r"robak\w*",
            r"larw\w*",
            r"wycofa\w* z (?:obrotu|rynku|sprzedaży)",
            r"allerg(?:y|ies)",
            r"(?:got|became|fell|was|were) (?:very |really |violently )?(?:sick|ill) after",
            r"batter(?:y|ies) (?:is |are |was |were |has |have |got )?(?:swollen|swelling|bulging|swelled)",
            r"(?:roz|po)chorował\w*",
            r"(?:bateri|akumulator)\w* (?:\w+ )?spuch\w*",
            r"spuchnię\w* (?:bateri|akumulator)\w*",
            r"rash(?:es)?",
            r"hives",
            r"swell(?:ing|ed)",
            r"unsafe",
            r"dangerous\w*",
            r"(?:a|safety|fire|health|electrical|serious|real) hazard",
            r"hazardous",
            r"safety (?:issue|risk|concern|hazard)s?",
            r"toxic\w*",
            r"expired (?:food|product|goods|milk|meat|medicine|items?)",
            r"past (?:its|the) (?:expiry|use[- ]?by|best[- ]?before)\w*",
            r"mou?ldy",
            r"(?:covered in|full of) mou?ld",
            r"maggots?",
            r"cockroach\w*",
            r"(?:insects?|worms?) in",
            r"(?:product|safety) recall",
            r"(?:been|was|were|is being) recalled",
        ),
    },
    "data_leak": {
        "critical": _loose(
            r"wyciek\w* (?:\w+ ){0,2}?danych",
            r"dan(?:e|ych|ymi|ym|ach) (?:\w+ ){0,2}?wyciek\w*",
            r"wyciekł\w* (?:\w+ ){0,2}?dan\w*",
            r"udostępni\w* (?:\w+ ){0,2}?(?:moje|mój|moich|mojego|moją|nasze) (?:dane|adres\w*|numer\w*|telefon\w*|e-?mail\w*|pesel\w*)",
            r"(?:moje|moich|nasze) dan\w* (?:\w+ ){0,2}?(?:udostępnion|sprzedan|przekazan|wykorzystan|użyt|skradzion|wykradzion)\w*",
            r"cudz\w* (?:dan\w*|faktur\w*|adres\w*)",
            r"dan\w* inn\w* (?:klient|osob|kupując)\w*",
            r"zhakowa\w*",
            r"shakowa\w*",
            r"włama\w* (?:się )?(?:na|do) (?:\w+ )?kont\w*",
            r"uodo",
            r"giodo",
            r"urz\w* ochrony danych\w*",
            r"data (?:breach|leak)\w*",
            r"(?:breach|leak)\w* of (?:my |our |customer |customers' |personal )*(?:data|information|details)",
            r"leak(?:ed|ing)? (?:my|our|customer|customers'|personal|private) (?:\w+ )?(?:data|details|information|address|email|e-mail|phone|number|card)",
            r"(?:my|our) (?:personal )?(?:data|details|information|address|card details) (?:was|were|has been|have been|got|is|are) (?:leaked|shared|sold|exposed|stolen|compromised|hacked|published)",
            r"someone else'?s (?:data|details|personal|address|invoice|information|name)",
            r"(?:account|email|e-mail) (?:was|got|has been|is) hacked",
            r"hacked",
            r"identity theft",
            r"information commissioner\w*",
            r"data protection (?:authority|office|commissioner)\w*",
        ),
        "elevated": _loose(
            r"dan\w* osobow\w*",
            r"ochron\w* danych",
            r"rodo",
            r"pesel\w*",
            r"personal (?:data|information|details)",
            r"gdpr",
        ),
    },
    "public_escalation": {
        "critical": _loose(
            r"policj\w*",
            r"policyjn\w*",
            r"prokurat\w*",
            r"komisariat\w*",
            r"organ\w* ścigania",
            r"police\w*",
            r"cops",
            r"prosecut\w*",
            r"action fraud",
        ),
        "elevated": _loose(
            r"uokik\w*",
            r"rzeczni\w* (?:\w+ )?konsument\w*",
            r"(?:miejsk|powiatow)\w* rzeczni\w*",
            r"inspekcj\w* handlow\w*",
            r"ochrony konkurencji",
            r"federacj\w* konsument\w*",
            r"sanepid\w*",
            r"charge ?-?backs?",
            r"obciążen\w* zwrotn\w*",
            r"(?:zgłos|zgłasz|złoż|reklamuj|reklamacj)\w* (?:\w+ ){0,3}?(?:w|do) (?:moim |mój |mojego )?bank\w*",
            r"(?:spór|sporu) (?:w|na|z|przez) paypal\w*",
            r"otw(?:orz|ier|arci)\w* sp(?:ór|oru|orze)",
            r"do mediów",
            r"(?:opisz|wrzuc|wrzuć|opublikuj|udostępn|nagłośn|napisz|poinformuj|zgłosz|powiadom)\w* (?:\w+ ){0,3}?"
            r"(?:w|na|do) (?:\w+ )?(?:mediach|mediów|media|forach|forum|facebook\w*|fb|fejsbuk\w*|grupach|grupie|"
            r"instagram\w*|tiktok\w*|twitter\w*|youtube\w*|kanale|blogu|internecie|sieci|necie|wykop\w*|"
            r"telewizj\w*|gazet(?:y|ach|ie)|prasie|prasy|redakcj\w*)",
            r"dziennikar\w*",
            r"reporter\w*",
            r"tvn\w*",
            r"polsat\w*",
            r"uwaga ?!? ?tvn",
            r"programu? [„\"]?uwaga",
            r"nagłośni(?:ę|my|ć|ł\w*|li|ła|ło|enie sprawy|eniem sprawy)",
            r"ostrzeg\w* (?:innych|wszystkich|znajomych|ludzi)",
            r"(?:cała polska|wszyscy) się dowie\w*",
            r"trading standards",
            r"better business bureau",
            r"bbb",
            r"ftc",
            r"federal trade commission",
            r"consumer (?:protection|rights|ombudsman|council|agency|authority|watchdog)\w*",
            r"ombudsman\w*",
            r"citizens advice",
            r"watchdog\w*",
            r"attorney general",
            r"dispute\w* (?:\w+ ){0,3}?(?:with|through|via|on) (?:my )?(?:bank|card|credit card|paypal|visa|mastercard|amex)",
            r"(?:open|opened|opening|file|filed|filing|raise|raised|raising|start|started) (?:a )?(?:dispute|claim|case) (?:with|on|through|via) (?:my )?(?:bank|card|paypal|credit)",
            r"(?:contact|contacted|contacting|call|called|calling) my (?:bank|card company|card issuer|credit card)",
            r"reverse the (?:charge|payment|transaction)",
            r"paypal (?:dispute|claim|case)s?",
            r"journalist\w*",
            r"(?:go|going|gone|went|take|taking|took|report\w*|contact\w*|tell\w*|inform\w*|alert\w*) (?:this |it |you |them )?"
            r"to (?:the )?(?:local |national )?(?:press|media|newspapers?|news)",
            r"(?:contact\w*|tell\w*|inform\w*|alert\w*) (?:the )?(?:local |national )?(?:press|media|newspapers?)",
            r"(?:post|share|write|tell|expose|put)\w* (?:\w+ ){0,3}?(?:on|to|across|all over) (?:social media|facebook|twitter|tiktok|instagram|reddit|youtube|the internet|every \w+)",
            r"go(?:es|ing|ne)? viral",
            r"make (?:this|it) viral",
            r"tell (?:everyone|everybody|all my (?:friends|followers))",
            r"warn (?:everyone|everybody|others|other people|people)",
        ),
    },
    "fraud_scam": {
        "elevated": _loose(
            r"oszu\w*",
            r"wyłudz\w*",
            r"naciąga(?:cz|ctw)\w*",
            r"naciąg\w* (?:mnie|nas|klient\w*|ludzi|kupując\w*)",
            r"złodzie[ij]\w*",
            r"[ous]?krad\w*",
            r"przekręt\w*",
            r"szwind\w*",
            r"machlojk\w*",
            r"piramid\w* finansow\w*",
            r"podróbk\w*",
            r"podrabian\w*",
            r"podrobion\w*",
            r"fałszyw\w* (?:sklep|stron|produkt|towar|opini|recenzj|faktur|paragon)\w*",
            r"nieuczciw\w*",
            r"przestęp(?:stw|c|cz)\w*",
            r"podszywa\w*",
            r"przywłaszcz\w*",
            r"band(?:yc|yt)\w*",
            r"scam\w*",
            r"fraud\w*",
            r"phishing\w*",
            r"rip-?off\w*",
            r"ripped (?:me|us|them|people|customers|everyone) off",
            r"(?:a|total|complete|absolute) rip off",
            r"stole (?:my|our|your|the|from|money|it|them|his|her|everything)",
            r"stolen",
            r"steal(?:s|ing)? (?:my|our|your|people|customers|money|from)",
            r"stealing",
            r"theft",
            r"thie(?:f|ves|ving)",
            r"counterfeit\w*",
            r"fake (?:product|item|goods|shop|store|website|site|seller|company|brand|reviews?|tracking)\w*",
            r"(?:is|was|are|were|it's|its|it’s|total|totally|complete) fake",
            r"con (?:artists?|men|man)",
            r"swindl\w*",
            r"crook\w*",
            r"criminals?",
            r"dishonest\w*",
            r"cheat(?:ed|ing|ers?)",
            r"impersonat\w*",
            r"ponzi",
            r"pyramid scheme",
            r"(?:took|taken|keep|keeping|kept) (?:all )?my money",
        ),
    },
    "repeated_complaint": {
        "elevated": _loose(
            r"(?:pisz|pisał|napisał|zgłasz|zgłosił|dzwoni|dzwonił|reklamuj|reklamował|prosz|prosił|pyta|pytał|"
            r"przypomina|monituj|wysyła|wysłał|kontaktuj|kontaktował|odsyła|odesłał)\w* (?:już |do was |tu |tutaj )*"
            r"(?:po raz (?:drugi|trzeci|czwarty|piąty|szósty|kolejny|któryś|enty|n-ty|setny|\d+\.?)|"
            r"(?:drugi|trzeci|czwarty|piąty|szósty|kolejny|któryś|enty|n-ty|setny|\d+\.?) raz|"
            r"ponownie|znowu|znów|wielokrotnie|kilkakrotnie|"
            r"(?:kilka|parę|wiele|kilkanaście|dwa|trzy|cztery|pięć|\d+) raz\w*)",
            r"(?:po raz (?:drugi|trzeci|czwarty|piąty|szósty|kolejny|któryś|enty|n-ty|setny|\d+\.?)|"
            r"(?:drugi|trzeci|czwarty|piąty|szósty|kolejny|któryś|enty|n-ty|setny|\d+\.?) raz|"
            r"ponownie|znowu|znów|wielokrotnie|kilkakrotnie|(?:kilka|parę|wiele|kilkanaście|\d+) razy) (?:już )?"
            r"(?:pisz|pisał|napisał|zgłasz|zgłosił|dzwoni|dzwonił|reklamuj|reklamował|prosz|prosił|pyta|pytał|"
            r"przypomina|monituj|wysyła|wysłał|kontaktuj|kontaktował|odsyła|odesłał)\w*",
            r"(?:kolejn|ponown|drug|trzec|czwart|powtórn)\w* (?:reklamacj|zgłoszeni|mail|e-mail|wiadomoś|monit|"
            r"ponagleni|prośb)\w*",
            r"(?:nadal|wciąż|dalej|ciągle) (?:brak|nie ma|bez) (?:żadnej )?(?:odpowiedzi|kontaktu|reakcji)",
            r"(?:nadal|wciąż|dalej|ciągle) nikt (?:się )?(?:nie )?(?:odpisa|odpowiada|odpowiedzia|odezwa|kontaktowa)\w*",
            r"(?:writ|email|e-mail|contact|call|messag|ask|complain|chas|remind|rais|report)\w* (?:you |this |here |to you )?"
            r"(?:again|for the (?:second|third|fourth|fifth|nth|umpteenth|\d+(?:st|nd|rd|th)) time|"
            r"(?:several|multiple|many|numerous|countless|\d+) times)",
            r"(?:second|third|fourth|fifth|nth|umpteenth|\d+(?:st|nd|rd|th)) time (?:i(?:'m| am|'ve| have)? )?"
            r"(?:writ|email|e-mail|contact|call|messag|ask|complain|chas|report)\w*",
            r"(?:my|this is my) (?:second|third|fourth|fifth|nth|umpteenth|\d+(?:st|nd|rd|th)) "
            r"(?:complaint|email|e-mail|message|ticket|follow-up|attempt)s?",
            r"yet another (?:complaint|email|e-mail|message|ticket|follow-up)",
            r"still (?:no|not had|not received|haven't had|haven't received|have not had|have not received|"
            r"had no|received no|waiting for) (?:a |an |any )?(?:reply|response|answer)",
        ),
    },
}


_FIRST_ATOM: Final = re.compile(r"(?:\[[^\]\\]+\]|[a-z0-9])(?![?*+{])")


def _by_first_atom(terms: Sequence[str], depth: int = 3) -> str:
    """``oszu\\w*|oparz\\w*`` as ``o(?:szu\\w*|parz\\w*)``: the same language, but the regex engine skips a
    branch on its first character, so a word start tries a few branches instead of ~100 (several x faster)."""
    groups: dict[str, list[str]] = {}
    for term in terms:
        first = _FIRST_ATOM.match(term)
        key, rest = (first.group(), term[first.end() :]) if first else ("", term)
        groups.setdefault(key, []).append(rest)
    parts = []
    for key, rests in groups.items():
        if not key:
            parts.extend(rests)
        elif len(rests) == 1:
            parts.append(key + rests[0])
        else:
            inner = _by_first_atom(rests, depth - 1) if depth > 1 else "|".join(rests)
            parts.append(f"{key}(?:{inner})")
    return "|".join(parts)


def _compile(by_level: dict[UrgencyLevel, tuple[str, ...]]) -> re.Pattern[str]:
    """One alternation per reason, most severe group first so it wins where two start at the same place."""
    ordered = sorted(by_level.items(), key=lambda kv: -_RANK[kv[0]])
    groups = "|".join(f"(?P<{level}>{_by_first_atom(terms)})" for level, terms in ordered)
    spaced = groups.replace(" ?", r"\s*").replace(" ", r"\s+")
    return re.compile(rf"\b(?=\w)(?:{spaced})(?!\w)")


_PATTERNS: Final[dict[str, re.Pattern[str]]] = {code: _compile(levels) for code, levels in _LEXICON.items()}

# "mam 12 tys. obserwujących", "my 50k followers", "our channel has 120 000 subscribers".
_REACH_CLAIM: Final = re.compile(
    "".join(
        _loose(
            r"\b(?:mam|mamy|mój|moj\w*|nasz\w*|my|our|i\s+have|i've|ive|we\s+have|we've)\s+"
            r"(?:[^\W\d]\w*\s+){0,3}?"
            r"(?P<num>\d{1,3}(?:[ .,'’]\d{3}){1,4}|\d{1,9}(?:[.,]\d{1,3})?)(?!\d)\s*"
            r"(?P<mult>k|tys\.?|tysi\w*|thousand|mln\.?|milion\w*|million|mil|m)?\s*"
            r"(?P<noun>followers?|subscribers?|subs|fans?|viewers?|readers?|obserwuj\w*|subskrybent\w*|"
            r"subskrypcj\w*|fan(?:ów|i|ek|s)?|widz(?:ów|owie|om|ami)|czytelnik\w*|słuchacz\w*|followers\w*)(?!\w)"
        )
    )
)
_GROUPED: Final = re.compile(r"\d{1,3}(?:[ .,'’]\d{3})+")
_MULTIPLIERS: Final = (("tys", 1000), ("thousand", 1000), ("k", 1000), ("m", 1_000_000))

_NEGATED: Final = re.compile(
    "".join(
        _loose(
            r"(?:\b(?:nie|nigdy|not|never|(?:do|does|did|is|was|are|were|wo|would|ca|could|should|have|has|had)"
            r"n['’]?t)(?:\s+[\w'’]+){0,2}|\b(?:no|bez|brak|without|żadn\w*))\s+$"
        )
    )
)
_CLAUSE_TAIL: Final = re.compile(r"[^.,;:!?()\[\]/\n\x00–—]*$")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_TAG: Final = re.compile(r"<[a-zA-Z!/?][^<>]{0,1000}>")
_ENTITY: Final = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_TOKEN: Final = re.compile(r"\S+|\s+")
_UNIT: Final = re.compile(
    _ENTITY.pattern + r"|.[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*", re.DOTALL
)
_SPACES: Final = re.compile(r"\s+")


# --- scanning --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scan:
    """The sanitised text, its normalised form for matching, and where each normalised char came from."""

    source: str
    norm: str
    starts: Sequence[int]
    ends: Sequence[int]

    def evidence(self, start: int, end: int) -> str:
        """The input's own words for ``norm[start:end]``, whitespace collapsed, at most 80 characters."""
        words = _SPACES.sub(" ", self.source[self.starts[start] : self.ends[end - 1]]).strip()
        return words if len(words) <= MAX_EVIDENCE else words[: MAX_EVIDENCE - 1].rstrip() + "…"


def _window(text: str) -> str:
    """Head and tail of a very long text, joined by a NUL no phrase pattern can cross."""
    if len(text) <= SCAN_HEAD + SCAN_TAIL:
        return text
    return text[:SCAN_HEAD] + "\x00" + text[-SCAN_TAIL:]


def _plain(token: str) -> bool:
    """True when casefolding maps ``token`` char for char (the common case: no mapping table needed)."""
    return (
        "&" not in token and unicodedata.is_normalized("NFKC", token) and len(token.casefold()) == len(token)
    )


def _scan(text: str) -> _Scan:
    source = _TAG.sub(lambda m: " " * len(m.group()), _SURROGATE.sub("\ufffd", _window(text)))
    if _plain(source):
        identity = range(len(source))
        return _Scan(source, source.casefold(), identity, range(1, len(source) + 1))
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for token in _TOKEN.finditer(source):
        chunk, offset = token.group(), token.start()
        if _plain(chunk):
            parts.append(chunk.casefold())
            starts.extend(range(offset, offset + len(chunk)))
            ends.extend(range(offset + 1, offset + len(chunk) + 1))
            continue
        for unit in _UNIT.finditer(chunk):
            raw = unit.group()
            folded = unicodedata.normalize("NFKC", html.unescape(raw) if raw[0] == "&" else raw).casefold()
            parts.append(folded)
            starts.extend([offset + unit.start()] * len(folded))
            ends.extend([offset + unit.end()] * len(folded))
    return _Scan(source, "".join(parts), starts, ends)


def _negation(norm: str, start: int) -> int | None:
    """Where a negator shortly before ``start`` in the same clause begins ("to nie jest oszustwo"), if any."""
    offset = max(0, start - 80)
    clause = _CLAUSE_TAIL.search(norm, offset, start)
    negator = _NEGATED.search(norm, clause.start(), start) if clause is not None else None
    return negator.start() if negator is not None else None


# --- reasons ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    code: str
    severity: UrgencyLevel
    evidence: str
    negated: bool = False


def _lexicon_hits(scan: _Scan) -> Iterator[_Hit]:
    for code, pattern in _PATTERNS.items():
        for m in pattern.finditer(scan.norm):
            negator = _negation(scan.norm, m.start())
            severity: UrgencyLevel = "critical" if m.groupdict().get("critical") is not None else "elevated"
            if negator is None:
                yield _Hit(code, severity, scan.evidence(m.start(), m.end()))
            else:  # the evidence shows the negator, so a reader sees why it is only elevated
                yield _Hit(code, "elevated", scan.evidence(negator, m.end()), negated=True)


def _parse_count(number: str, multiplier: str | None = None) -> int:
    """A follower count as people write it: "12,000", "12 000", "12.000", "1,5 tys.", "2.5k", "3 mln".

    A separator followed by exactly three digits groups thousands; otherwise it is a decimal point (a
    comma in Polish). Raises ValueError for text that is not a number.
    """
    number = number.strip()
    if _GROUPED.fullmatch(number):
        value = Decimal(re.sub(r"\D", "", number))
    elif re.fullmatch(r"\d+(?:[.,]\d+)?", number):
        value = Decimal(number.replace(",", "."))
    else:
        raise ValueError(f"not a count: {number!r}")
    word = (multiplier or "").strip().casefold()
    factor = next((f for prefix, f in _MULTIPLIERS if word.startswith(prefix)), 1)
    return int(value * factor)


def _reach_hits(scan: _Scan, reach: int | None, threshold: int) -> Iterator[_Hit]:
    if reach is not None and reach >= threshold:
        yield _Hit("high_reach", "elevated", f"{reach:,} followers")
        return
    for m in _REACH_CLAIM.finditer(scan.norm):
        if _parse_count(m.group("num"), m.group("mult")) >= threshold:
            negated = _negation(scan.norm, m.start()) is not None
            yield _Hit("high_reach", "elevated", scan.evidence(m.start("num"), m.end()), negated)


def _best_per_code(hits: Sequence[_Hit]) -> dict[str, _Hit]:
    """One reason per code: an affirmed hit over a negated one, then the more severe, then the first."""
    best: dict[str, _Hit] = {}
    for hit in hits:
        old = best.get(hit.code)
        if old is None or (not hit.negated, _RANK[hit.severity]) > (not old.negated, _RANK[old.severity]):
            best[hit.code] = hit
    return best


def _kept(hit: _Hit, sentiment_score: float | None) -> bool:
    """Drop what a positive text only mentions: "nie uczula, polecam", "myślałam, że to oszustwo, ale..."."""
    if sentiment_score is None:
        return True
    if hit.negated and sentiment_score > 0:
        return False
    return not (hit.code == "fraud_scam" and sentiment_score >= CLEARLY_POSITIVE)


def _check(reach: int | None, prior_complaints: int, high_reach_threshold: int) -> None:
    if reach is not None and reach < 0:
        raise ValueError(f"reach must be >= 0 or None, got {reach}")
    if prior_complaints < 0:
        raise ValueError(f"prior_complaints must be >= 0, got {prior_complaints}")
    if high_reach_threshold <= 0:
        raise ValueError(f"high_reach_threshold must be > 0, got {high_reach_threshold}")


def assess_urgency(
    text: str,
    *,
    reach: int | None = None,
    prior_complaints: int = 0,
    sentiment_score: float | None = None,
    high_reach_threshold: int = 10_000,
) -> Urgency:
    """How urgent a mention is and why (see the module docstring for the policy).

    ``reach`` is the author's audience (followers), ``prior_complaints`` how many earlier complaints the
    same author made, ``sentiment_score`` the classifier's p(positive) - p(negative) in [-1, 1] (None or NaN:
    unknown, so it neither escalates nor drops anything). Never raises on any ``str``; raises TypeError for a
    non-string and ValueError for a negative count or a threshold <= 0.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    _check(reach, prior_complaints, high_reach_threshold)
    scan = _scan(text)
    hits = [*_lexicon_hits(scan), *_reach_hits(scan, reach, high_reach_threshold)]
    if prior_complaints >= REPEATED_COMPLAINTS:
        hits.append(_Hit("repeated_complaint", "elevated", f"{prior_complaints} earlier complaints"))
    best = _best_per_code([h for h in hits if _kept(h, sentiment_score)])
    fraud = best.get("fraud_scam")
    strongly_negative = sentiment_score is not None and sentiment_score <= STRONG_NEGATIVE
    high_reach = "high_reach" in best and not best["high_reach"].negated
    if fraud is not None and not fraud.negated and (strongly_negative or high_reach):
        best["fraud_scam"] = _Hit("fraud_scam", "critical", fraud.evidence)
    return _combine(best)


def _combine(best: dict[str, _Hit]) -> Urgency:
    """Highest severity wins; two different affirmed elevated reasons make the mention critical."""
    ordered = sorted(best.values(), key=lambda h: (-_RANK[h.severity], REASONS.index(h.code)))
    reasons = tuple(UrgencyReason(h.code, h.evidence, h.severity) for h in ordered)
    level: UrgencyLevel = max((h.severity for h in ordered), key=_RANK.__getitem__, default="none")
    if sum(1 for h in ordered if h.severity == "elevated" and not h.negated) >= 2:
        level = "critical"
    return Urgency(level, reasons)
