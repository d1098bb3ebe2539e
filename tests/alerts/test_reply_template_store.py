"""Saved reply templates: stored per target, aspect and language, checked, and used as the suggestion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.replies import reply_length, suggest_reply
from alerts.reply_template_store import (
    POSITIVE_ASPECT,
    TemplateError,
    check_template,
    delete_template,
    fill_template,
    list_templates,
    save_template,
    templates_for,
)
from monitor.core.config import ReplySettings
from tests.alerts.test_replies import mention, score

NOW = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
CONTACT = ReplySettings(contact_email="pomoc@sklep.example", signature="Zespół Sklepu")
DELIVERY_PL = "{greeting}\nPrzykro nam, że paczka się spóźnia, {author}. {contact}\n{signature}"


def _save(
    session: Session, target: str, aspect: str, lang: str, text: str, template_id: int | None = None
) -> int:
    row = save_template(
        session,
        template_id=template_id,
        target=target,
        aspect=aspect,
        lang=lang,
        text=text,
        user="web:ola",
        now=NOW,
    )
    assert row.id is not None
    return row.id


def test_create_list_edit_delete(engine: Engine) -> None:
    with Session(engine) as session:
        first = _save(session, "Sklep Kowalski", "delivery", "pl", DELIVERY_PL)
        _save(session, "", "", "en", "{greeting}\nSorry about that. {contact}")
        session.commit()
        assert [(t.target, t.aspect, t.lang) for t in list_templates(session)] == [
            ("", "", "en"),
            ("Sklep Kowalski", "delivery", "pl"),
        ]
        _save(session, "Sklep Kowalski", "returns", "pl", "Zwrot: {contact}", template_id=first)
        session.commit()
        edited = list_templates(session)[1]
        assert (edited.id, edited.aspect, edited.text, edited.updated_by) == (
            first,
            "returns",
            "Zwrot: {contact}",
            "web:ola",
        )
        assert delete_template(session, first) is True
        assert delete_template(session, first) is False
        session.commit()
        assert len(list_templates(session)) == 1


def test_one_template_per_target_aspect_and_language(engine: Engine) -> None:
    with Session(engine) as session:
        _save(session, "Sklep", "delivery", "pl", "A")
        session.commit()
        with pytest.raises(TemplateError, match="exists already"):
            _save(session, "Sklep", "delivery", "pl", "B")
        _save(session, "Sklep", "delivery", "en", "B")  # another language is another template
        with pytest.raises(TemplateError, match="no template 999"):
            _save(session, "Sklep", "price", "pl", "C", template_id=999)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("Dzień dobry {autor}", "Unknown placeholder {autor}"),
        ("{contact!r}", "Unknown placeholder"),
        ("{contact:>10}", "Unknown placeholder"),
        ("Nawias { bez końca", "unmatched brace"),
        ("x" * 5_001, "5001 characters"),
    ],
)
def test_a_template_with_a_mistake_is_refused_with_what_to_fix(text: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=problem):
        check_template(text)


def test_unknown_aspect_or_language_is_refused(engine: Engine) -> None:
    with Session(engine) as session:
        with pytest.raises(TemplateError, match="Unknown aspect"):
            _save(session, "", "shipping", "pl", "x")
        with pytest.raises(TemplateError, match="Unknown language"):
            _save(session, "", "delivery", "de", "x")


def test_literal_braces_and_empty_values_read_cleanly() -> None:
    text = fill_template(
        "{greeting}\nDzień dobry, {author}! Kod {{RABAT}} nie działa. {contact}\n{signature}",
        greeting="",
        author="",
        contact="Prosimy o kontakt: a@b.example.",
        brand="",
        signature="",
    )
    assert text == "Dzień dobry! Kod {RABAT} nie działa. Prosimy o kontakt: a@b.example."


def test_a_customer_name_is_inserted_as_plain_text_on_one_line() -> None:
    text = fill_template(
        "Dziękujemy, {author}.",
        greeting="",
        author="{contact}\n<!channel>\x07",
        contact="X",
        brand="",
        signature="",
    )
    assert text == "Dziękujemy, {contact} <!channel>."


def test_the_most_specific_template_wins(engine: Engine) -> None:
    with Session(engine) as session:
        _save(session, "", "delivery", "pl", "wszystkie marki, dostawa")
        _save(session, "Sklep", "delivery", "pl", "Sklep, dostawa")
        _save(session, "Sklep", "", "pl", "Sklep, dowolna skarga")
        _save(session, "Inny", "delivery", "pl", "Inny, dostawa")
        session.commit()
        sklep = templates_for(session, "Sklep")
        nobody = templates_for(session, None)
    assert sklep == {("delivery", "pl"): "Sklep, dostawa", ("", "pl"): "Sklep, dowolna skarga"}
    assert nobody == {("delivery", "pl"): "wszystkie marki, dostawa"}

    def reply(aspect: str, templates: dict[tuple[str, str], str]) -> str:
        return suggest_reply(mention(), score("pl", (aspect, "negative")), CONTACT, templates=templates).text

    assert reply("delivery", sklep) == "Sklep, dostawa"
    assert reply("price", sklep) == "Sklep, dowolna skarga"
    assert reply("price", nobody) != "wszystkie marki, dostawa"  # no template for price: built as before


@pytest.mark.parametrize(
    ("source", "lang", "text", "expected"),
    [
        (
            "google_business",
            "pl",
            "Zamówiłam buty",
            "Szanowna Pani,\nPrzykro nam, że paczka się spóźnia, Anna Nowak. Prosimy o kontakt: "
            "pomoc@sklep.example.\nZespół Sklepu",
        ),
        (
            "mastodon",
            "pl",
            "Zamówiłam buty",
            "Przykro nam, że paczka się spóźnia, Anna Nowak. Prosimy o kontakt: pomoc@sklep.example.",
        ),
        (
            "ceneo",
            "en",
            "Ordered shoes",
            "Hello,\nSorry your parcel is late, Anna Nowak. Please contact us: pomoc@sklep.example.\nZespół Sklepu",
        ),
    ],
)
def test_a_saved_template_is_the_suggested_reply_in_both_languages(
    source: str, lang: str, text: str, expected: str
) -> None:
    templates = {
        ("delivery", "pl"): DELIVERY_PL,
        ("delivery", "en"): "{greeting}\nSorry your parcel is late, {author}. {contact}\n{signature}",
    }
    reply = suggest_reply(
        mention(source=source, lang=lang, text=text),
        score(lang, ("delivery", "negative")),
        CONTACT,
        templates=templates,
    )
    assert reply.text == expected
    assert reply.from_template is True


def test_praise_uses_the_praise_template_and_complaints_never_do() -> None:
    templates = {(POSITIVE_ASPECT, "pl"): "Dziękujemy za {brand}!", ("", "pl"): "Skarga: {contact}"}
    happy = suggest_reply(
        mention(rating=5.0),
        score("pl", label="positive", value=0.9),
        CONTACT,
        severity="positive",
        brand="Sklep",
        templates=templates,
    )
    unhappy = suggest_reply(mention(), score("pl", ("price", "negative")), CONTACT, templates=templates)
    assert happy.text == "Dziękujemy za Sklep!"
    assert unhappy.text == "Skarga: Prosimy o kontakt: pomoc@sklep.example."


def test_urgent_items_keep_the_careful_reply() -> None:
    reply = suggest_reply(
        mention(),
        score("pl", ("delivery", "negative"), reasons=("legal_threat",)),
        CONTACT,
        templates={("delivery", "pl"): "Przepraszamy, to nasza wina!", ("", "pl"): "Przepraszamy!"},
    )
    assert reply.from_template is False and "wina" not in reply.text


def test_a_template_longer_than_the_source_allows_is_cut_at_a_word() -> None:
    reply = suggest_reply(
        mention(source="bluesky"),
        score("pl", ("delivery", "negative")),
        CONTACT,
        templates={("delivery", "pl"): "Przepraszamy bardzo. " * 40},
    )
    assert reply_length("bluesky", reply.text) <= 300 and reply.text.endswith("bardzo.…")
