"""Scrapy settings for Earshot's spiders.

The runner (:mod:`spiders.runner`) loads this module at "project" priority and adds the service's
:class:`monitor.core.config.EarshotSettings` under ``EARSHOT_SETTINGS``; every Earshot component reads its
database URL, targets and credentials from there (``scrapy crawl`` without a runner falls back to the
``EARSHOT_*`` environment). Settings named ``EARSHOT_*`` below are Earshot's own.
"""

from __future__ import annotations

BOT_NAME = "earshot"

SPIDER_MODULES = ["spiders.spiders"]
NEWSPIDER_MODULE = "spiders.spiders"

# Identify ourselves honestly; sites and API owners can find the project from this string.
USER_AGENT = "Earshot/0.1 (+https://github.com/earshot/earshot)"

# HTML sources obey robots.txt; API spiders (authorised, documented endpoints) switch it off in their
# custom_settings.
ROBOTSTXT_OBEY = True

# Be gentle: a monitoring crawl is never in a hurry.
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.25
DOWNLOAD_TIMEOUT = 30
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0

COOKIES_ENABLED = False

# Retries: 5xx and network errors are retried with exponential backoff by BackoffRetryMiddleware
# (a drop-in for Scrapy's RetryMiddleware); 429 is handled separately by RetryAfterMiddleware, which
# waits as long as the server's Retry-After asks. 429 must not be in RETRY_HTTP_CODES, or the stock
# retry logic would retry it again without waiting once RetryAfterMiddleware gives up.
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
# The spider's errback logs the final failure as an ERROR with context; the give-up line is a warning.
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
EARSHOT_RETRY_BACKOFF_BASE = 1.0  # seconds before the first retry; doubles each time
EARSHOT_RETRY_BACKOFF_MAX = 30.0
EARSHOT_RATELIMIT_HTTP_CODES = [429]
EARSHOT_RATELIMIT_RETRY_TIMES = 3
EARSHOT_RATELIMIT_DEFAULT_DELAY = 10.0  # when a 429 carries no Retry-After; doubles each time
EARSHOT_RATELIMIT_MAX_DELAY = 300.0  # a longer Retry-After ends this location's crawl instead
# Waits computed by the two retry middlewares (not a server's Retry-After, which is waited exactly) get up to
# EARSHOT_BACKOFF_JITTER of themselves more at random (default monitor.core.backoff.DEFAULT_JITTER, 20%), so
# requests that failed together do not retry together; 0 gives the plain doubling.

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "spiders.middlewares.BackoffRetryMiddleware": 550,
    # Higher number = closer to the downloader = sees responses first, before BackoffRetryMiddleware.
    "spiders.middlewares.RetryAfterMiddleware": 560,
    # Before RetryAfterMiddleware: gives a 429 the source's own reset as Retry-After. A no-op for spiders
    # without a rate_limit_status method.
    "spiders.middlewares.RateLimitHeadersMiddleware": 565,
    # Next to the downloader: notes the first host that failed each way (connection refused, DNS, 5xx...),
    # so a failed run can say which server it was (spiders.failures).
    "spiders.failures.FailureTracker": 950,
}

ITEM_PIPELINES = {
    "spiders.pipelines.ValidationPipeline": 100,
    "spiders.pipelines.StoragePipeline": 500,
}

EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "spiders.extensions.CrawlRunRecorder": 500,
}
TELNETCONSOLE_ENABLED = False
# Scrapy >= 2.19 starts an HTTP server that executes posted Python code; a service has no use for it.
REMOTE_CONTROL_ENABLED = False

# Dropped items are logged by reason only, not with their whole body (reviews are personal data).
LOG_FORMATTER = "spiders.logformatter.EarshotLogFormatter"
LOG_LEVEL = "INFO"
# Scrapy's log (settings, stats, tracebacks) is for the per-run file the runner names in LOG_FILE
# (data_dir/logs/), never the console: the runner sets LOG_INSTALL_ROOT_HANDLER per crawl, the setting
# that replaced CrawlerProcess(install_root_handler=...) (deprecated since Scrapy 2.13).
LOG_INSTALL_ROOT_HANDLER = True
LOGSTATS_INTERVAL = 60.0

# A crawl never runs unbounded when started from a scheduler.
CLOSESPIDER_TIMEOUT = 1800

# Scrapy 2.7-2.12 warn unless this is set; newer versions only know REQUEST_FINGERPRINTER_CLASS.
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"

# Set by spiders.runner: the monitor.core.config.EarshotSettings object, and the crawl_runs row to fill in.
EARSHOT_SETTINGS = None
EARSHOT_CRAWL_RUN_ID = None

# Link stored with each Google Business Profile review. Placeholders: {name} (the review's resource
# name, accounts/A/locations/L/reviews/R), {account_id}, {location_id}, {review_id}, {base_url}.
EARSHOT_GBP_REVIEW_URL_TEMPLATE = "{base_url}/v4/{name}"

# Locations of one account read together with locations:batchGetReviews once a target has at least this
# many that were read before (each with a watermark); fewer are read one by one.
EARSHOT_GBP_BATCH_MIN_LOCATIONS = 10

# Items stored per database transaction by StoragePipeline (one writer thread; a failed batch is redone
# item by item so only the bad row fails).
EARSHOT_STORE_BATCH_SIZE = 100
