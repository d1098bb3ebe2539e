"""The weekly digest for managers: one target's week in numbers, charts, an HTML report and a Slack post.

One concern per module, dependencies pointing one way (bottom to top): ``errors``; ``i18n`` (words and
number formats of both languages); ``weeks`` (ISO weeks in the digest's time zone); ``report`` (the result
types); ``links`` (slugs and URLs); ``items`` and ``queries`` (the SQL that fills a report); ``charts`` and
``render`` (PNG, HTML and the Slack text); ``files`` (where reports are saved and found); ``run`` (build,
render, write and post every target's digest). Import from the module that defines a name: this package
re-exports nothing, so importing :mod:`monitor.digest.files` (the web app) never loads matplotlib.

Every number comes from SQL aggregations over the week's rows (``GROUP BY``/``COUNT``/``SUM``/``AVG``,
JSON table functions for aspects, a window function for example quotes), so a million stored mentions
never travel into Python; only the handful of result rows, the week's alerts (for percentiles) and the
top urgent items do.

* **Week** = an ISO week in ``digest.timezone``: ``[Monday 00:00, next Monday 00:00)`` local, kept as
  UTC instants. A mention belongs to it when ``COALESCE(created_at, first_seen_at)`` (the source's time,
  else when we first saw it) falls inside. Local days are computed as UTC boundaries (a DST week has a
  23- or 25-hour day) and counted in SQL with one ``CASE`` bucket per day, so SQLite and PostgreSQL agree.
* **Sentiment** of a mention = its newest score of its current version (an edited review is read as it
  is now); mentions without one are counted apart as unscored; shares are of the scored ones.
* **KPIs** come from the top-level mention alerts created in the week (kinds ``AlertKind.MENTION_KINDS``,
  no parent): minutes from ``sent_at`` (else ``created_at``) to ``handled_at``; the SLA share counts an
  alert within SLA when handled inside its severity's target, missed when handled later or still open past
  it; an open alert whose deadline has not come yet is not judged.

:func:`monitor.digest.run.run_digest` builds, renders and writes
``data_dir/reports/<target-slug>/<week>.html`` (+ ``.json``) per target and posts the summary with the
charts to Slack (files upload v2), or prints it without a token.
"""
