"""End to end in a real browser: the web pages as an agent uses them, in headless Debian chromium.

Why in a browser as well as over HTTP: what the agent sees (hostile text staying text, the reply box
prefilled and editable, the flash after each button, the inbox on a phone) only shows in a page that runs
the HTML, CSS and JS. The real app (``serve_web``) runs on a loopback port over a SQLite database seeded
with :func:`tests.web.seed.seed_demo`; replies go to the fake Google Business Profile API. Screenshots of
the inbox (desktop and phone), an item page and a digest are written to ``artifacts/screenshots`` (the CI
artifacts) and listed at the end of the run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.core.config import CONFIG_ENV, EarshotSettings
from monitor.core.db import make_engine
from monitor.core.models import Alert, ReplyRecord, SentimentCorrection
from tests.alerts.fake_sources import FakeReplyApi
from tests.web.browser import SCREENSHOTS, ScreenshotSummary, free_port, launch_chromium
from tests.web.seed import GOOGLE_REVIEW_NAME, HOSTILE_TEXT, SEED_WEEK, TARGETS, SeedInfo, seed_demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Dialog, Page

pytestmark = pytest.mark.e2e

USER = "agata"
PASSWORD = "Źdźbło-łąki 42!"  # typed into the form: non-ASCII must survive the login POST
SHOTS = ("inbox", "inbox-mobile", "item", "digest", "inbox-pl", "item-pl", "inbox-en", "item-en")
NEGATIVE = (
    "gbp_pl_negative",
    "tp_en_negative",
    "mastodon_hostile",
    "gbp_en_negative",
    "ceneo_pl_negative",
    "gbp_pl_critical",
)
EDITED_REPLY = (
    "Dzień dobry Pani Zofio, bardzo przepraszamy za rozmokniętą paczkę i ciszę z naszej strony. "
    "Zwrot pieniędzy zleciliśmy dziś. Zespół Sklepu Kowalski"
)


@dataclass(frozen=True)
class WebUnderTest:
    base_url: str
    engine: Engine
    settings: EarshotSettings
    seed: SeedInfo
    replies: FakeReplyApi


@dataclass
class Tab:
    """A signed-out browser tab plus every dialog (alert/confirm) it raised; confirms are accepted."""

    page: Page
    context: BrowserContext
    dialogs: list[str]


@pytest.fixture(scope="module")
def screenshots(request: pytest.FixtureRequest) -> ScreenshotSummary:
    """Fresh screenshot folder (stale files would pass for this run's artifacts) and the summary plugin."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name in SHOTS:
        (SCREENSHOTS / f"{name}.png").unlink(missing_ok=True)
    manager = request.config.pluginmanager
    plugin = manager.get_plugin("earshot-e2e-screenshots")
    if not isinstance(plugin, ScreenshotSummary):
        plugin = ScreenshotSummary()
        manager.register(plugin, "earshot-e2e-screenshots")
    return plugin


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as chromium:
        yield chromium


def _isolate_settings(env: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone: a developer's EARSHOT_SLACK__BOT_TOKEN must not reach real Slack."""
    for name in list(os.environ):
        section = name.removeprefix("EARSHOT_").split("__")[0].lower()
        if name == CONFIG_ENV or (name.startswith("EARSHOT_") and section in EarshotSettings.model_fields):
            env.delenv(name)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebUnderTest]:
    """The real web app on a free loopback port, one user, replies going to the fake Google API."""
    from monitor.web.app import serve_web, shutdown_web
    from monitor.web.auth import hash_password

    data_dir = tmp_path_factory.mktemp("e2e")
    engine = make_engine(f"sqlite:///{data_dir / 'earshot.db'}")
    seed = seed_demo(engine)
    port = free_port()
    with pytest.MonkeyPatch.context() as env, FakeReplyApi() as replies:
        _isolate_settings(env)
        replies.add_google_review(GOOGLE_REVIEW_NAME)
        settings = EarshotSettings(
            data_dir=data_dir,
            database_url=str(engine.url),
            public_url=f"http://127.0.0.1:{port}",
            targets=[{"name": name} for name in TARGETS],
            sources={"google_business": {"base_url": replies.url, "access_token": replies.google_token}},
            web={
                "host": "127.0.0.1",
                "port": port,
                "users": [{"username": USER, "password_hash": hash_password(PASSWORD)}],
                "session_secret": "e2e-session-secret-0123456789abcdef",
            },
        )
        server, thread = serve_web(settings, engine)
        try:
            yield WebUnderTest(f"http://127.0.0.1:{port}", engine, settings, seed, replies)
        finally:
            shutdown_web(server, thread)
            engine.dispose()


def _open_tab(browser: Browser, **context_args: object) -> Tab:
    context = browser.new_context(**context_args)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.accept()

    page.on("dialog", on_dialog)
    return Tab(page, context, dialogs)


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    opened = _open_tab(browser, viewport={"width": 1280, "height": 900}, locale="pl-PL")
    yield opened
    opened.context.close()


def _log_in(tab: Tab, web: WebUnderTest, password: str = PASSWORD) -> None:
    """Open the inbox signed out: the app sends the browser to its login form; sign in there."""
    page = tab.page
    page.goto(f"{web.base_url}/inbox")
    assert urlsplit(page.url).path == "/login", page.url
    page.fill("#login-form [name=username]", USER)
    page.fill("#login-form [name=password]", password)
    _submit(page, "#login-submit")


def _shot(page: Page, name: str, summary: ScreenshotSummary) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary.add(path)
    return path


def _row_ids(page: Page) -> set[int]:
    ids = page.eval_on_selector_all("tr.mention-row", "rows => rows.map(r => r.dataset.id)")
    return {int(i) for i in ids}


def _submit(page: Page, selector: str) -> None:
    """Click a form's button and wait for the page it leads to (a flash from the last page is no answer)."""
    with page.expect_navigation():
        page.click(selector)


def _filter(page: Page, **values: str) -> None:
    """Set the inbox filters as a person would (select or type) and submit the form."""
    for name, value in values.items():
        field = page.locator(f"#filters [name={name}]")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    _submit(page, "#filters [type=submit] >> nth=0")


def _ids(seed: SeedInfo, *keys: str) -> set[int]:
    return {seed.mentions[k] for k in keys}


def test_login_inbox_filters_and_phone_layout(
    browser: Browser, tab: Tab, web: WebUnderTest, screenshots: ScreenshotSummary
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    _log_in(tab, web, password="wrong password")
    expect(page.locator("#login-error")).to_be_visible()
    assert page.locator("#inbox-table").count() == 0

    page.fill("#login-form [name=username]", USER)
    page.fill("#login-form [name=password]", PASSWORD)
    _submit(page, "#login-submit")
    expect(page).to_have_url(f"{web.base_url}/inbox")
    expect(page.locator("#inbox-table")).to_be_visible()
    assert _row_ids(page) == set(web.seed.mentions.values())
    expect(page.locator("#inbox-table")).to_contain_text("Księgarnia Żuraw")
    _shot(page, "inbox", screenshots)

    _filter(page, sentiment="negative")
    assert "sentiment=negative" in page.url
    assert _row_ids(page) == _ids(web.seed, *NEGATIVE)

    _filter(page, sentiment="", q="zazolc")
    assert _row_ids(page) == _ids(web.seed, "mastodon_pl_positive")
    expect(page.locator("#inbox-table")).to_contain_text("Zażółć gęślą jaźń")
    _filter(page, q="zolc")
    assert _row_ids(page) == set()

    # The same session on a phone: the inbox fits the screen, no sideways scrolling.
    phone = _open_tab(
        browser,
        storage_state=tab.context.storage_state(),
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="pl-PL",
    )
    try:
        phone.page.goto(f"{web.base_url}/inbox")
        expect(phone.page.locator("#inbox-table")).to_be_visible()
        assert _row_ids(phone.page) == set(web.seed.mentions.values())
        overflow = phone.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the inbox is {overflow}px wider than a 390px phone screen"
        _shot(phone.page, "inbox-mobile", screenshots)
    finally:
        phone.context.close()
    assert tab.dialogs == []


def test_item_page_hostile_text_reply_handle_correct(
    tab: Tab, web: WebUnderTest, screenshots: ScreenshotSummary
) -> None:
    from playwright.sync_api import expect

    page, seed = tab.page, web.seed
    _log_in(tab, web)
    expect(page).to_have_url(f"{web.base_url}/inbox")

    # Hostile text is shown as text: no script runs, no alert() dialog, no javascript: link.
    page.goto(f"{web.base_url}/items/{seed.mentions['mastodon_hostile']}")
    expect(page.locator("#item-text")).to_have_text(HOSTILE_TEXT)
    assert page.locator("#item-text script").count() == 0
    assert page.locator("a[href^='javascript:' i]").count() == 0
    assert tab.dialogs == [], f"the page raised dialogs: {tab.dialogs}"

    # Edit the suggested Polish reply and post it to Google.
    item = seed.mentions["gbp_pl_negative"]
    page.goto(f"{web.base_url}/items/{item}")
    expect(page.locator("#item-text")).to_contain_text("Żądam zwrotu pieniędzy!")
    reply_box = page.locator("#reply-form textarea[name=text]")
    expect(reply_box).to_have_value(
        "Dzień dobry, bardzo przepraszamy za uszkodzoną przesyłkę i brak odpowiedzi. Prosimy o kontakt "
        "z numerem zamówienia — zajmiemy się zwrotem. Zespół Sklepu Kowalski"
    )
    reply_box.fill(EDITED_REPLY)
    _submit(page, "#post-reply")
    expect(page.locator("#flash")).to_be_visible()
    expect(page.locator("#reopen")).to_be_visible()  # replied = handled
    expect(page.locator("#thread-history")).to_contain_text("Zwrot pieniędzy zleciliśmy dziś")
    google = web.replies.google_reply(GOOGLE_REVIEW_NAME)
    assert google is not None and google["comment"] == EDITED_REPLY
    with Session(web.engine) as session:
        record = session.exec(select(ReplyRecord).where(ReplyRecord.mention_id == item)).one()
        alert = session.get(Alert, seed.alerts["gbp_pl_negative"])
    assert (record.text, record.status, record.via, record.author) == (
        EDITED_REPLY,
        "posted",
        "web",
        f"web:{USER}",
    )
    assert alert is not None and alert.handled_action == "replied" and alert.handled_by == f"web:{USER}"
    _shot(page, "item", screenshots)

    # Mark another open alert handled, then correct its sentiment.
    other = seed.mentions["gbp_en_negative"]
    page.goto(f"{web.base_url}/items/{other}")
    expect(page.locator("#reopen")).to_have_count(0)
    _submit(page, "#mark-handled")
    expect(page.locator("#flash")).to_be_visible()
    expect(page.locator("#reopen")).to_be_visible()
    page.select_option("#correct-form select[name=label]", "neutral")
    _submit(page, "#correct-submit")
    expect(page.locator("#flash")).to_be_visible()
    with Session(web.engine) as session:
        handled = session.get(Alert, seed.alerts["gbp_en_negative"])
        corrections = session.exec(
            select(SentimentCorrection).where(SentimentCorrection.mention_id == other)
        ).all()
    assert handled is not None and handled.handled_by == f"web:{USER}" and handled.handled_at is not None
    assert [(c.label, c.previous_label, c.via, c.corrected_by) for c in corrections] == [
        ("neutral", "negative", "web", f"web:{USER}")
    ]
    assert not any(d.startswith("alert") for d in tab.dialogs), tab.dialogs


def test_digest_page(tab: Tab, web: WebUnderTest, screenshots: ScreenshotSummary) -> None:
    from playwright.sync_api import expect

    from monitor.digest.run import run_digest
    from monitor.digest.weeks import parse_week

    week = parse_week(SEED_WEEK, web.settings.digest.timezone)
    run_digest(web.engine, web.settings, week=week, targets=[TARGETS[1]], sender=None)

    page = tab.page
    _log_in(tab, web)
    expect(page).to_have_url(f"{web.base_url}/inbox")
    page.goto(f"{web.base_url}/digests")
    links = page.locator("#digest-list a.digest-link")
    expect(links).to_have_count(1)
    expect(links.first).to_contain_text(SEED_WEEK)
    with page.expect_navigation():
        links.first.click()
    assert SEED_WEEK in page.url
    body = page.locator("body")
    expect(body).to_contain_text(TARGETS[1])
    expect(body).to_contain_text("Raport tygodniowy")  # Polish, the default digest language
    expect(body).to_contain_text("Jakość produktu")  # the top negative aspect of Księgarnia Żuraw
    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.src.slice(0, 22), i.naturalWidth])")
    assert images and all(src == "data:image/png;base64," and width > 0 for src, width in images), images
    _shot(page, "digest", screenshots)


def test_pages_follow_the_browser_language_until_the_user_chooses_one(
    browser: Browser, web: WebUnderTest, screenshots: ScreenshotSummary
) -> None:
    """A Polish browser gets Polish pages, an English one English; the header's buttons beat both.

    Screenshots of the inbox and an item page in each language land beside the others (their paths are
    printed at the end of the run).
    """
    from playwright.sync_api import expect

    item = web.seed.mentions["gbp_pl_negative"]
    for locale, language in (("pl-PL", "pl"), ("en-US", "en")):
        tab = _open_tab(browser, viewport={"width": 1280, "height": 900}, locale=locale)
        try:
            page = tab.page
            _log_in(tab, web)
            expect(page.locator("html")).to_have_attribute("lang", language)
            if language == "pl":
                expect(page.locator("h1")).to_have_text("Skrzynka")
                expect(page.locator("#inbox-table thead")).to_contain_text("Wydźwięk")
                expect(page.locator("#filters-submit")).to_have_text("Filtruj")
                expect(page.locator("#inbox-table")).to_contain_text("lis 2026")  # Polish month, zone:
                expect(page.locator("#inbox-table")).to_contain_text("CET")
            else:
                expect(page.locator("h1")).to_have_text("Inbox")
                expect(page.locator("#inbox-table")).to_contain_text("Nov")
            date_from = page.locator("#filters [name=date_from]")
            assert date_from.get_attribute("type") == "text"  # ISO days, not the browser's mm/dd/yyyy
            date_from.fill("2026-11-18")
            _submit(page, "#filters [type=submit] >> nth=0")
            assert "date_from=2026-11-18" in page.url
            print(f"\nscreenshot: {_shot(page, f'inbox-{language}', screenshots)}")

            page.goto(f"{web.base_url}/items/{item}")
            if language == "pl":
                expect(page.locator("#item-analysis h2")).to_have_text("Analiza")
                expect(page.locator("#reply h2")).to_have_text("Odpowiedź")
                expect(page.locator("#item-analysis")).to_contain_text("Obsługa klienta")
            else:
                expect(page.locator("#item-analysis h2")).to_have_text("Analysis")
            expect(page.locator("#item-time")).to_contain_text("CET")
            print(f"screenshot: {_shot(page, f'item-{language}', screenshots)}")
        finally:
            tab.context.close()

    # An English browser, but the user chooses Polish in the header: it sticks, in a new tab too.
    tab = _open_tab(browser, viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = tab.page
        _log_in(tab, web)
        expect(page.locator("h1")).to_have_text("Inbox")
        _submit(page, "#language-pl")
        expect(page.locator("html")).to_have_attribute("lang", "pl")
        expect(page.locator("h1")).to_have_text("Skrzynka")
        page.goto(f"{web.base_url}/items/{item}")
        state_button = page.locator("#mark-handled, #reopen")  # handled or not, by the tests before
        expect(state_button).to_have_text(re.compile("^(Oznacz jako obsłużone|Otwórz ponownie)$"))
        _submit(page, "#language-en")
        expect(page).to_have_url(f"{web.base_url}/items/{item}")  # back on the same page
        expect(state_button).to_have_text(re.compile("^(Mark handled|Reopen)$"))
        _submit(page, "#language-pl")  # leave the user as the Polish browsers above expect
    finally:
        tab.context.close()
