"""Spider classes, discovered by Scrapy through ``SPIDER_MODULES``."""
