"""Earshot's web pages (FastAPI + Jinja2): sign-in, inbox, item page with actions, exports, digests.

Start with :func:`monitor.web.app.serve_web` (``earshot web`` / ``earshot run``) or build the ASGI app with
:func:`monitor.web.app.create_app`; the routes are in :mod:`monitor.web.routes` (one router per resource),
their dependencies in :mod:`monitor.web.deps`. Routes and element ids (a contract the browser tests rely on):

* ``GET /login``: ``form#login-form`` (``username``, ``password``; ``token`` when web.shared_token is set;
  hidden ``csrf_token`` and ``next``), ``button#login-submit``; ``POST /login`` -> 303 to ``next`` or
  ``/inbox``, wrong credentials -> 401 with ``#login-error``. ``POST /logout`` from ``form#logout-form``.
* ``GET /`` -> 303 ``/inbox``. ``GET /inbox``: ``form#filters`` (GET: target, source, sentiment, urgency,
  status, assignee, date_from, date_to, q, page), ``table#inbox-table`` with ``tr.mention-row[data-id]``,
  ``a#export-csv`` / ``a#export-json`` (same filters), ``a#page-prev`` / ``a#page-next``.
* ``GET /items/{id}``: ``#item-text``, ``#item-rating``, ``#item-author``, ``#item-reach``, ``a#source-link``
  (http(s) only), ``#item-analysis`` (``#item-sentiment``, ``#item-confidence``, ``#item-urgency``,
  ``#item-aspects``), ``#item-status``, ``#thread-history``; forms ``#reply-form`` (``textarea[name=text]``,
  ``button#post-reply``), ``#handle-form`` with ``button#mark-handled``, ``#reopen-form`` with
  ``button#reopen`` (when handled), ``#assign-form`` (``input[name=assignee]``, ``button#assign-submit``),
  ``#correct-form`` (``select[name=label]``, ``button#correct-submit``). Each POST -> 303 back to the item,
  whose page then shows ``#flash``. POST routes: ``/items/{id}/reply|handle|reopen|assign|correct``.
* ``GET /digests``: ``ul#digest-list`` of ``a.digest-link``; ``GET /digests/{slug}/{week}`` serves the
  saved report (404 when missing).
* ``GET /export.csv`` / ``GET /export.json``: the inbox's filters, every page, streamed.
* ``GET /healthz``: no sign-in needed.
* ``POST /slack/interactivity`` (when the app is given a Slack worker, as ``earshot web`` does): Slack's
  signed clicks and modal submissions, no sign-in (:mod:`monitor.web.routes.slack`).
"""
