"""The wording of suggested replies, per language and tone, kept apart from the logic that picks it.

Every sentence here is fixed text: a reply is assembled only from these phrases and what the brand put in
its configuration (contact channels, next steps, signature), never from the customer's words. None of the
phrases contains a digit, a deadline, an amount or a promise of money back: those may only come from
``ReplySettings.next_steps``.

Polish has two tones: formal and informal ("Ty"). A formal reply addresses the customer as "Pani" or "Pan"
only when the text says the writer's gender (``alerts.reply_gender``: "zamówiłam" → Pani); otherwise its
sentences avoid any gendered form ("Dzień dobry," and no vocative), since a wrong "Panie" to a woman is
worse than none. English has one polite tone.
Aspect phrases are written out in the grammatical case each template needs instead of being inflected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

from sentiment.vocabulary import ASPECT_KEYS

__all__ = ["ASPECT_ORDER", "Phrases", "phrases_for"]

# The aspects sentiment.aspects reports, in the order a reply mentions them when several are negative.
ASPECT_ORDER: Final[tuple[str, ...]] = ASPECT_KEYS


@dataclass(frozen=True)
class Phrases:
    """One language and tone: sentence templates (``{x}`` placeholders) and per-aspect phrases."""

    greeting: str
    apology: str  # "{problems}" = aspect problems joined
    apology_generic: str
    look_into: str  # the non-committal next step
    remarks: str  # info severity: "{topics}"
    thanks_feedback: str
    thanks_positive: str
    glad: str  # "{things}" = positive aspect clauses joined
    glad_despite: str  # a positive note inside a complaint
    closing_positive: str
    closing_brand: str  # "{brand}"
    contact: str  # "{channels}"
    contact_private: str  # no channel configured, the platform has private messages
    contact_thread: str  # no channel configured, a public thread without private messages
    contact_service: str  # no channel configured, a review site: customer service, never a "message"
    urgent_intro: str
    urgent_contact: str  # "{channels}"
    urgent_contact_private: str
    urgent_contact_service: str  # no channel configured and no private messages on the platform
    urgent_privacy: str
    phone_prefix: str
    and_word: str
    or_word: str
    problem: dict[str, str]  # aspect -> what went wrong, in the case the apology needs
    delivery_delay: str  # the delivery problem when the customer says it is late
    topic: dict[str, str]  # aspect -> topic, in the case ``remarks`` needs
    good: dict[str, str]  # aspect -> what went well, a clause for ``glad``


_PL_PROBLEM: Final = {
    "delivery": "kłopoty z dostawą",
    "returns": "trudności ze zwrotem lub reklamacją",
    "customer_service": "niedogodności w kontakcie z naszą obsługą klienta",
    "product_quality": "problem z jakością produktu",
    "price": "rozczarowanie związane z ceną",
    "payment": "problemy z płatnością",
    "website": "problemy z naszą stroną internetową lub aplikacją",
}
_PL_TOPIC: Final = {
    "delivery": "dostawy",
    "returns": "zwrotów i reklamacji",
    "customer_service": "naszej obsługi klienta",
    "product_quality": "jakości produktu",
    "price": "ceny",
    "payment": "płatności",
    "website": "naszej strony internetowej i aplikacji",
}
_PL_GOOD: Final = {
    "delivery": "dostawa przebiegła sprawnie",
    "returns": "zwrot lub reklamacja przebiegły sprawnie",
    "customer_service": "nasza obsługa klienta okazała się pomocna",
    "product_quality": "produkt spełnił oczekiwania",
    "price": "cena okazała się atrakcyjna",
    "payment": "płatność przebiegła bez kłopotów",
    "website": "korzystanie z naszej strony było wygodne",
}

_PL_FORMAL: Final = Phrases(
    greeting="Dzień dobry,",
    apology="Przepraszamy za {problems}.",
    apology_generic="Przepraszamy, że nasze usługi nie spełniły tym razem oczekiwań.",
    look_into="Przyjrzymy się tej sprawie.",
    remarks="Przyjrzymy się uwagom dotyczącym {topics}.",
    thanks_feedback="Dziękujemy za opinię.",
    thanks_positive="Dziękujemy za miłe słowa!",
    glad="Cieszymy się, że {things}.",
    glad_despite="Cieszymy się jednak, że {things}.",
    closing_positive="Zapraszamy ponownie.",
    closing_brand="Mamy nadzieję, że marka {brand} jeszcze nieraz spełni oczekiwania.",
    contact="Prosimy o kontakt: {channels}.",
    contact_private="Prosimy o kontakt w prywatnej wiadomości lub w odpowiedzi tutaj.",
    contact_thread="Prosimy o odpowiedź tutaj – zajmiemy się sprawą.",
    contact_service="Zapraszamy do kontaktu z naszym działem obsługi klienta.",
    urgent_intro="Dziękujemy za wiadomość. Traktujemy tę sprawę poważnie i chcemy ją dokładnie wyjaśnić.",
    urgent_contact="Prosimy o kontakt bezpośrednio: {channels} – tam omówimy szczegóły.",
    urgent_contact_private="Prosimy o prywatną wiadomość – tam omówimy szczegóły.",
    urgent_contact_service="Prosimy o kontakt z naszym działem obsługi klienta – tam omówimy szczegóły.",
    urgent_privacy="Prosimy nie podawać tutaj danych osobowych.",
    phone_prefix="tel. ",
    and_word="i",
    or_word="lub",
    problem=_PL_PROBLEM,
    delivery_delay="opóźnienie dostawy",
    topic=_PL_TOPIC,
    good=_PL_GOOD,
)

_PL_INFORMAL: Final = Phrases(
    greeting="Cześć,",
    apology="Przepraszamy Cię za {problems}.",
    apology_generic="Przepraszamy Cię, że nie wszystko poszło tak, jak powinno.",
    look_into="Sprawdzimy to.",
    remarks="Przyjrzymy się uwagom dotyczącym {topics}.",
    thanks_feedback="Dzięki za opinię!",
    thanks_positive="Dzięki za miłe słowa!",
    glad="Cieszymy się, że {things}.",
    glad_despite="Cieszymy się jednak, że {things}.",
    closing_positive="Do zobaczenia!",
    closing_brand="Mamy nadzieję, że wkrótce znów wybierzesz markę {brand}.",
    contact="Napisz do nas: {channels}.",
    contact_private="Napisz do nas prywatną wiadomość albo odpowiedz tutaj.",
    contact_thread="Odpowiedz nam tutaj – zajmiemy się sprawą.",
    contact_service="Zapraszamy do kontaktu z naszą obsługą klienta.",
    urgent_intro="Dzięki za wiadomość. Traktujemy tę sprawę poważnie i chcemy ją dokładnie wyjaśnić.",
    urgent_contact="Napisz do nas bezpośrednio: {channels} – tam omówimy szczegóły.",
    urgent_contact_private="Napisz do nas prywatną wiadomość – tam omówimy szczegóły.",
    urgent_contact_service="Skontaktuj się z naszą obsługą klienta – tam omówimy szczegóły.",
    urgent_privacy="Nie podawaj tutaj danych osobowych.",
    phone_prefix="tel. ",
    and_word="i",
    or_word="lub",
    problem=_PL_PROBLEM,
    delivery_delay="opóźnienie dostawy",
    topic=_PL_TOPIC,
    good=_PL_GOOD,
)

_EN: Final = Phrases(
    greeting="Hello,",
    apology="We're sorry about {problems}.",
    apology_generic="We're sorry to hear that your experience was not what you expected.",
    look_into="We will look into it.",
    remarks="We will look into your remarks about {topics}.",
    thanks_feedback="Thank you for your feedback.",
    thanks_positive="Thank you for your kind words!",
    glad="We're glad {things}.",
    glad_despite="We're glad, though, that {things}.",
    closing_positive="We hope to see you again soon.",
    closing_brand="We hope to see you again at {brand} soon.",
    contact="Please contact us: {channels}.",
    contact_private="Please send us a private message or reply here.",
    contact_thread="Please reply here and we will follow up.",
    contact_service="Please get in touch with our customer service team.",
    urgent_intro="Thank you for letting us know. We take this seriously and want to look into it properly.",
    urgent_contact="Please contact us directly: {channels}, so we can discuss the details privately.",
    urgent_contact_private="Please send us a private message so we can discuss the details privately.",
    urgent_contact_service="Please contact our customer service team so we can discuss the details privately.",
    urgent_privacy="Please don't share personal details here.",
    phone_prefix="phone ",
    and_word="and",
    or_word="or",
    problem={
        "delivery": "the trouble with your delivery",
        "returns": "the trouble with your return or complaint",
        "customer_service": "your experience with our customer service",
        "product_quality": "the problem with the product's quality",
        "price": "your disappointment with the price",
        "payment": "the trouble with your payment",
        "website": "the trouble with our website or app",
    },
    delivery_delay="the delay with your delivery",
    topic={
        "delivery": "delivery",
        "returns": "returns and complaints",
        "customer_service": "our customer service",
        "product_quality": "product quality",
        "price": "pricing",
        "payment": "payment",
        "website": "our website and app",
    },
    good={
        "delivery": "your delivery went smoothly",
        "returns": "your return went smoothly",
        "customer_service": "our customer service team could help",
        "product_quality": "you are happy with the product",
        "price": "you found the price fair",
        "payment": "paying was easy",
        "website": "our website was easy to use",
    },
)


# A formal Polish reply to a writer whose gender the text shows: "Szanowna Pani," / "Szanowny Panie,".
_PL_FORMAL_FEMALE: Final = replace(
    _PL_FORMAL,
    greeting="Szanowna Pani,",
    apology_generic="Przepraszamy, że nasze usługi nie spełniły tym razem Pani oczekiwań.",
    thanks_feedback="Dziękujemy Pani za opinię.",
    thanks_positive="Dziękujemy Pani za miłe słowa!",
    closing_brand="Mamy nadzieję, że wkrótce znów wybierze Pani markę {brand}.",
)
_PL_FORMAL_MALE: Final = replace(
    _PL_FORMAL,
    greeting="Szanowny Panie,",
    apology_generic="Przepraszamy, że nasze usługi nie spełniły tym razem Pana oczekiwań.",
    thanks_feedback="Dziękujemy Panu za opinię.",
    thanks_positive="Dziękujemy Panu za miłe słowa!",
    closing_brand="Mamy nadzieję, że wkrótce znów wybierze Pan markę {brand}.",
)


def phrases_for(lang: str, formal: bool, gender: Literal["female", "male"] | None = None) -> Phrases:
    """The phrase set for a reply language (``pl`` or ``en``), for Polish the tone and, when formal and
    known, the writer's grammatical gender (None: sentences that need none)."""
    if lang != "pl":
        return _EN
    if not formal:
        return _PL_INFORMAL
    if gender == "female":
        return _PL_FORMAL_FEMALE
    if gender == "male":
        return _PL_FORMAL_MALE
    return _PL_FORMAL
