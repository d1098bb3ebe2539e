"""Demo sites for ``earshot demo``: per source, a route table (``<source>.py``) over its data file.

Everything here is about the fictional shop DobraKuchnia.pl and fictional people; texts are Polish and
English, as a Polish shop's customer service sees them. See :mod:`monitor.demo_source` for the server.
"""
