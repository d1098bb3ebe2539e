"""Every page in Polish and in English: the user's own choice, else the browser's Accept-Language.

Over real HTTP (the ``sqlite_site`` fixture): what a Polish agent reads on each page (``<html lang>``, the
words, dates with their zone, numbers with Polish separators, one-time messages and error pages), and that
the PL / EN buttons beat the browser's header, for that user only, in any browser they sign in from.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from monitor.core.i18n import catalogue_path
from monitor.web.context import HERE
from tests.web.conftest import OTHER_PASSWORD, OTHER_USER, PASSWORD, USER, Client, Site, SiteFactory

PL = {"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-US,en;q=0.9,pl;q=0.3"}
_LANG = re.compile(r'<html lang="(\w+)">')


def _lang(page: str) -> str:
    found = _LANG.search(page)
    assert found, page[:200]
    return found.group(1)


def _flash(page: str) -> str:
    found = re.search(r'id="flash"[^>]*>([^<]*)<', page)
    assert found, "no flash message on the page"
    return found.group(1)


def _choose(client: Client, language: str, next_url: str = "/inbox", **extra: str) -> None:
    token = client.csrf_from("/inbox")
    reply = client.post("/language", {"csrf_token": token, "language": language, "next": next_url, **extra})
    assert reply.status == 303, reply.text


# ------------------------------------------------------------------------------------- the catalogue


def test_every_string_of_the_templates_has_a_polish_translation() -> None:
    """A string a template wraps in _() but web.po lacks would be English on a Polish page."""
    with catalogue_path("web").open("rb") as source:
        translated = {m.id for m in read_po(source) if m.id and m.string and not m.fuzzy}
    missing: list[str] = []
    for template in sorted((HERE / "templates").glob("*.html")):
        with template.open("rb") as source:
            options = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
            for _line, _func, message, _comments in babel_extract(source, ("_", "gettext"), [], options):
                if not message:
                    continue  # _(variable): a stored value, translated through the labels below
                text = message if isinstance(message, str) else next((m for m in message if m), None)
                if text and text not in translated:
                    missing.append(f"{template.name}: {text!r}")
    assert missing == [], "\n".join(missing)


# ------------------------------------------------------------------------------------------ the pages


def test_the_sign_in_page_follows_accept_language(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    polish = client.get("/login", headers=PL).text
    assert _lang(polish) == "pl"
    assert "<h1>Zaloguj się</h1>" in polish and "Hasło" in polish and "Nazwa użytkownika" in polish
    english = client.get("/login", headers=EN).text
    assert _lang(english) == "en" and "<h1>Sign in</h1>" in english and "Password" in english
    # Neither of ours, or no header at all: web.language (English unless configured).
    assert _lang(client.get("/login", headers={"Accept-Language": "de-DE,fr;q=0.8"}).text) == "en"
    assert _lang(client.get("/login").text) == "en"


def test_web_language_is_the_default_when_the_browser_names_neither(
    make_site: SiteFactory, sqlite_engine: object, tmp_path: Path
) -> None:
    site = make_site(sqlite_engine, web={"language": "pl"})
    client = site.client()
    assert _lang(client.get("/login", headers={"Accept-Language": "de"}).text) == "pl"
    assert _lang(client.get("/login", headers=EN).text) == "en"  # the browser still wins over the default


def test_a_wrong_password_and_a_lockout_are_explained_in_polish(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    token = client.csrf_from("/login")
    form = {"csrf_token": token, "username": USER, "password": "wrong"}
    reply = client.post("/login", form, headers=PL)
    assert reply.status == 401 and "Błędna nazwa użytkownika, hasło lub token." in reply.text
    for _ in range(5):
        reply = client.post("/login", form, headers=PL)
    assert reply.status == 429
    assert "Zbyt wiele nieudanych prób logowania. Spróbuj ponownie za 1 min." in reply.text


def test_the_inbox_in_polish_and_english(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    polish = client.get("/inbox?target=Sklep+Kowalski", headers=PL).text
    assert _lang(polish) == "pl"
    for words in (
        "<h1>Skrzynka</h1>",
        "Wydźwięk",
        "Pilność",
        ">negatywny<",
        "Filtruj",
        "Eksportuj te wyniki",
    ):
        assert words in polish, words
    hostile = sqlite_site.seed.mentions["mastodon_hostile"]
    row = polish[polish.index(f'data-id="{hostile}"') :]
    row = row[: row.index("</tr>")]
    assert "18 lis 2026, 13:00 CET" in row  # 12:00 UTC, in Warsaw, the zone said
    assert "przypisane: U0AGENT02" in row
    # Days are typed as yyyy-mm-dd whatever the browser's locale (a date input would show mm/dd/yyyy).
    assert re.search(r'type="text" name="date_from"[^>]*pattern="\\d\{4\}-\\d\{2\}-\\d\{2\}"', polish)
    assert 'placeholder="rrrr-mm-dd"' in polish
    english = client.get("/inbox?target=Sklep+Kowalski", headers=EN).text
    assert _lang(english) == "en" and "<h1>Inbox</h1>" in english and "Nov 18, 2026, 13:00 CET" in english
    assert 'placeholder="yyyy-mm-dd"' in english


def test_a_bad_filter_is_explained_in_the_readers_language(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    reply = client.get("/inbox?sentiment=furious", headers=PL)
    assert reply.status == 400
    assert "Błędny filtr" in reply.text
    assert "sentiment musi mieć jedną z wartości: negative, neutral, positive (podano &#39;furious&#39;)" in (
        reply.text
    )
    reply = client.get("/inbox?q=%21%21", headers=PL)
    assert reply.status == 400 and "q musi zawierać literę lub cyfrę" in reply.text
    english = client.get("/inbox?date_from=18.11.2026", headers=EN)
    assert english.status == 400 and "date_from must be a date as YYYY-MM-DD" in english.text
    # The exports answer scripts, in English, whatever the header.
    assert "must be one of" in client.get("/export.json?sentiment=furious", headers=PL).text


def test_the_item_page_in_polish_and_english(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    item = sqlite_site.seed.mentions["gbp_pl_negative"]
    polish = client.get(f"/items/{item}", headers=PL).text
    assert _lang(polish) == "pl"
    for words in (
        "<h2>Analiza</h2>",
        "<h2>Odpowiedź</h2>",
        "<h2>Historia</h2>",
        "Obsługa klienta",  # the aspect's Polish name
        "nagłośnienie publiczne",  # the urgency reason
        'id="item-score">-0,86<',  # a Polish decimal comma
        "Oznacz jako obsłużone",
        "Zły wydźwięk? Właściwy to",
        "Wersja 1, 2★",  # the history
        "CET",
    ):
        assert words in polish, words
    english = client.get(f"/items/{item}", headers=EN).text
    assert _lang(english) == "en" and "<h2>Analysis</h2>" in english and 'id="item-score">-0.86<' in english
    assert "Mark handled" in english and "Version 1, 2★" in english


def test_one_time_messages_are_in_the_readers_language(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    item = sqlite_site.seed.mentions["gbp_en_negative"]
    token = client.csrf_from(f"/items/{item}")
    assert client.post(f"/items/{item}/assign", {"csrf_token": token, "assignee": "Ola"}).status == 303
    assert _flash(client.get(f"/items/{item}", headers=PL).text) == "Przypisano do: Ola."
    assert client.post(f"/items/{item}/handle", {"csrf_token": token}, headers=PL).status == 303
    assert _flash(client.get(f"/items/{item}", headers=PL).text) == "Oznaczono jako obsłużone."
    assert client.post(f"/items/{item}/handle", {"csrf_token": token}).status == 303
    assert _flash(client.get(f"/items/{item}", headers=EN).text) == "Already handled."
    correct = {"csrf_token": token, "label": "neutral"}
    assert client.post(f"/items/{item}/correct", correct, headers=PL).status == 303
    assert (
        _flash(client.get(f"/items/{item}", headers=PL).text) == "Zapisano wydźwięk: neutralny. Dziękujemy."
    )


def test_error_pages_and_the_digest_list_in_polish(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    missing = client.get("/items/999999", headers=PL)
    assert (
        missing.status == 404
        and "Nie ma takiego wpisu" in missing.text
        and "Nie ma wzmianki 999999." in (missing.text)
    )
    refused = client.post("/items/1/handle", {"csrf_token": "forged"}, headers=PL)
    assert refused.status == 403 and "Nie można przyjąć tego formularza" in refused.text
    digests = client.get("/digests", headers=PL).text
    assert "<h1>Raporty tygodniowe</h1>" in digests and "Nie utworzono jeszcze żadnego raportu" in digests
    assert "Nie ma takiego raportu" in client.get("/digests/nope/2026-W01", headers=PL).text


def test_a_form_from_another_site_is_refused_in_the_readers_language(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    item = sqlite_site.seed.mentions["gbp_en_negative"]
    token = client.csrf_from(f"/items/{item}")
    form = {"csrf_token": token}
    polish = client.post(f"/items/{item}/handle", form, origin="https://evil.example", headers=PL)
    assert polish.status == 403 and _lang(polish.text) == "pl"
    assert "formularz wysłano z innej witryny (https://evil.example)" in polish.text
    assert "another site" not in polish.text
    english = client.post(f"/items/{item}/handle", form, origin="https://evil.example", headers=EN)
    assert (
        english.status == 403 and "the form was sent from another site (https://evil.example)" in english.text
    )


# ------------------------------------------------------------------------------- the user's choice


def test_the_users_choice_beats_the_browser_and_follows_them_to_another_browser(site: Site) -> None:
    """On SQLite and PostgreSQL: the choice is a row of web_preferences."""
    client = site.logged_in()
    assert _lang(client.get("/inbox", headers=EN).text) == "en"
    item = site.seed.mentions["gbp_pl_negative"]
    token = client.csrf_from("/inbox")
    reply = client.post("/language", {"csrf_token": token, "language": "pl", "next": f"/items/{item}"})
    assert reply.status == 303 and reply.location == f"/items/{item}"  # back where they clicked
    page = client.get(f"/items/{item}", headers=EN).text
    assert _lang(page) == "pl" and 'id="language-pl" class="secondary current" aria-pressed="true"' in page
    # Another browser (an English one), after signing in again: still Polish.
    elsewhere = site.logged_in()
    assert _lang(elsewhere.get("/inbox", headers=EN).text) == "pl"
    # Somebody else is not affected.
    other = site.logged_in(OTHER_USER, OTHER_PASSWORD)
    assert _lang(other.get("/inbox", headers=EN).text) == "en"
    # Choosing English again wins over a Polish browser.
    _choose(client, "en")
    assert _lang(client.get("/inbox", headers=PL).text) == "en"


def test_the_language_buttons_refuse_forged_unknown_and_offsite_requests(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    forged = client.post("/language", {"csrf_token": "forged", "language": "pl"})
    assert forged.status == 403
    assert _lang(client.get("/inbox", headers=EN).text) == "en"  # nothing saved
    token = client.csrf_from("/inbox")
    unknown = client.post("/language", {"csrf_token": token, "language": "de", "next": "/digests"})
    assert unknown.status == 303 and unknown.location == "/digests"
    assert _flash(client.get("/digests", headers=EN).text) == "Choose Polski or English."
    offsite = client.post("/language", {"csrf_token": token, "language": "pl", "next": "//evil.example/"})
    assert offsite.status == 303 and offsite.location == "/inbox"
    assert sqlite_site.client().post("/language", {"language": "pl"}).status in (401, 403)  # signed out


def test_the_csv_export_says_its_times_are_utc_and_adds_the_local_time(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    reply = client.get("/export.csv?target=Sklep+Kowalski&sentiment=negative", headers=PL)
    rows = list(csv.DictReader(io.StringIO(reply.body.decode("utf-8-sig"))))
    hostile = str(sqlite_site.seed.mentions["mastodon_hostile"])
    row = next(r for r in rows if r["id"] == hostile)
    assert row["time"] == "2026-11-18T12:00:00+00:00"  # UTC, its offset written
    assert row["time_local"] == "2026-11-18T13:00:00+01:00"  # web.timezone (Europe/Warsaw)


def test_logging_in_again_keeps_the_choice(sqlite_site: Site) -> None:
    user = USER
    client = sqlite_site.logged_in(user, PASSWORD)
    _choose(client, "pl")
    token = client.csrf_from("/inbox")
    assert client.post("/logout", {"csrf_token": token}).status == 303
    again = sqlite_site.logged_in(user, PASSWORD)
    assert _lang(again.get("/inbox").text) == "pl"  # no header at all: the saved choice
