"""The one error every spider raises for a source answer it cannot read.

A source that answers HTTP 200 with something other than what it documents (an HTML bot check instead of
JSON, a redesigned page, a truncated body, an object without its list) is not an HTTP error: Scrapy hands
it to the callback, and only the parser can tell. Each parser raises :class:`MalformedResponse` naming
its source; the spider fails the scope (``earshot/malformed_responses``) and the others go on.
"""

from __future__ import annotations

__all__ = ["MalformedResponse"]


class MalformedResponse(ValueError):
    """A 200 response from ``source`` whose body is not what the source documents for the request.

    ``str()`` is the parser's own message (what was wrong with the body), which the spider records as the
    scope's error; :attr:`hint` says what it means for the user.
    """

    hint = (
        "the source answered, but not in the format it documents: the scope keeps its watermark and is "
        "read again next run. If it keeps happening, the source changed its format (the spider needs an "
        "update) or something in between (a proxy, a bot check, a consent page) answered instead"
    )

    def __init__(self, source: str, message: str) -> None:
        super().__init__(message)
        self.source = source
