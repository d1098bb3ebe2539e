"""The reply templates page: agents list, create, edit and delete templates; the item page uses them, and
shows the reply memory (similar past replies) before the reply to edit."""

from __future__ import annotations

import html
import re

from sqlmodel import Session, select

from monitor.core.models import Alert, ReplyTemplate
from tests.web.conftest import Client, Site

PAGE = "/reply-templates"


def _templates(site: Site) -> list[tuple[str, str, str, str]]:
    with Session(site.engine) as session:
        rows = session.exec(select(ReplyTemplate).order_by(ReplyTemplate.id)).all()  # type: ignore[arg-type]
        return [(r.target, r.aspect, r.lang, r.text) for r in rows]


def _post(client: Client, path: str, **form: str) -> str:
    token = client.csrf_from(PAGE)
    reply = client.post(path, {"csrf_token": token, **form})
    assert reply.status == 303, reply.text
    assert reply.location is not None and reply.location.startswith(PAGE)
    page = client.get(reply.location).text
    match = re.search(r'id="flash"[^>]*>([^<]*)<', page)
    assert match, "no flash message"
    return html.unescape(match.group(1))


def _textarea(page: str) -> str:
    start = page.index("<textarea", page.index('id="reply-form"'))
    return html.unescape(page[start : page.index("</textarea>", start)].split(">", 1)[1]).strip()


def test_create_edit_and_delete_a_template(site: Site) -> None:
    client = site.logged_in()
    page = client.get(PAGE)
    assert page.status == 200 and 'id="no-templates"' in page.text
    assert 'href="/reply-templates"' in page.text  # in the navigation

    text = "{greeting}\nPrzykro nam z powodu dostawy, {author}. {contact}\n{signature}"
    assert (
        _post(client, PAGE, target="Sklep Kowalski", aspect="delivery", lang="pl", text=text)
        == "Template saved."
    )
    assert _templates(site) == [("Sklep Kowalski", "delivery", "pl", text)]
    with Session(site.engine) as session:
        template_id = session.exec(select(ReplyTemplate.id)).one()
    listed = client.get(PAGE).text
    assert f'id="template-{template_id}"' in listed and "Przykro nam z powodu dostawy" in listed

    form = client.get(f"{PAGE}?edit={template_id}").text
    assert f'action="/reply-templates/{template_id}"' in form and "Przykro nam z powodu dostawy" in form
    assert _post(
        client, f"{PAGE}/{template_id}", target="", aspect="", lang="en", text="Sorry! {contact}"
    ) == ("Template saved.")
    assert _templates(site) == [("", "", "en", "Sorry! {contact}")]

    assert _post(client, f"{PAGE}/{template_id}/delete") == "Template deleted."
    assert _templates(site) == []
    assert "it may have been deleted" in _post(client, f"{PAGE}/{template_id}/delete")


def test_a_template_with_an_unknown_placeholder_is_refused_and_nothing_is_saved(site: Site) -> None:
    client = site.logged_in()
    message = _post(client, PAGE, target="", aspect="", lang="pl", text="Dzień dobry {autor}")
    assert message.startswith("Not saved: Unknown placeholder {autor}")
    assert _templates(site) == []


def test_a_second_template_for_the_same_key_is_refused(site: Site) -> None:
    client = site.logged_in()
    _post(client, PAGE, target="", aspect="price", lang="en", text="A")
    assert "exists already" in _post(client, PAGE, target="", aspect="price", lang="en", text="B")
    assert _templates(site) == [("", "price", "en", "A")]


def test_a_form_without_the_csrf_token_changes_nothing(site: Site) -> None:
    client = site.logged_in()
    reply = client.post(PAGE, {"target": "", "aspect": "", "lang": "pl", "text": "x"})
    assert reply.status == 403
    forged = client.post(
        PAGE, {"csrf_token": "forged", "target": "", "aspect": "", "lang": "pl", "text": "x"}
    )
    assert forged.status == 403
    other_site = client.post(
        PAGE,
        {"csrf_token": client.csrf_from(PAGE), "target": "", "aspect": "", "lang": "pl", "text": "x"},
        origin="http://evil.example",
    )
    assert other_site.status == 403
    assert _templates(site) == []


def test_the_page_and_its_messages_in_polish(site: Site) -> None:
    client = site.logged_in()
    polish = {"Accept-Language": "pl-PL,pl;q=0.9"}
    page = client.get(PAGE, headers=polish).text
    assert "Szablony odpowiedzi" in page and "Dowolna skarga" in page and "Pochwała" in page
    token = client.csrf_from(PAGE)
    reply = client.post(
        PAGE, {"csrf_token": token, "aspect": "", "lang": "pl", "text": "{kontakt}"}, headers=polish
    )
    shown = client.get(reply.location or PAGE, headers=polish).text
    assert "Nie zapisano: Nieznane pole {kontakt}" in html.unescape(shown)


def test_the_item_page_suggests_the_saved_template_in_both_languages(site: Site) -> None:
    client = site.logged_in()
    _post(
        client, PAGE, target="Księgarnia Żuraw", aspect="positive", lang="pl",
        text="{greeting}\nDziękujemy za opinię o księgarni {brand}!\n{signature}",
    )  # fmt: skip
    _post(client, PAGE, target="", aspect="", lang="en", text="{greeting}\nThanks, we are on it. {contact}")
    polish = _textarea(client.get(f"/items/{site.seed.mentions['ceneo_pl_positive']}").text)
    assert polish.endswith("Dziękujemy za opinię o księgarni Księgarnia Żuraw!")
    assert polish.startswith(("Dzień dobry,", "Szanowna Pani,", "Szanowny Panie,"))  # a review: a greeting
    english = _textarea(client.get(f"/items/{site.seed.mentions['tp_en_neutral']}").text)
    assert english == "Hello,\nThanks, we are on it. Please get in touch with our customer service team."


def test_the_item_page_shows_similar_past_replies_before_the_reply_most_similar_first(site: Site) -> None:
    alert_id = site.seed.alerts["gbp_pl_negative"]
    with Session(site.engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        alert.payload = {
            **(alert.payload or {}),
            "similar_replies": [
                {"text": "Mniej podobna odpowiedź.", "similarity": 0.81, "mention_id": 3},
                {"text": "Najbardziej podobna odpowiedź.", "similarity": 0.95, "mention_id": 4},
            ],
        }
        session.add(alert)
        session.commit()
    page = site.logged_in().get(f"/items/{site.seed.mentions['gbp_pl_negative']}").text
    memory, form = page.index('id="reply-memory"'), page.index('id="reply-form"')
    best, other = page.index("Najbardziej podobna"), page.index("Mniej podobna")
    assert memory < best < other < form
    assert "95% alike" in page
    polish = (
        site.logged_in()
        .get(f"/items/{site.seed.mentions['gbp_pl_negative']}", headers={"Accept-Language": "pl"})
        .text
    )
    assert "Podobne wcześniejsze odpowiedzi" in polish and "podobieństwo 95%" in polish
