"""Earshot's Scrapy project: spiders that collect reviews and posts into ``monitor``'s database.

Run a crawl from Python with :func:`spiders.runner.run_crawl` (isolated in a child process), or with
``scrapy crawl google_business`` from the repository root (settings from ``EARSHOT_*``).
"""
