"""The aspect vocabulary: the seven things a shop text can be about, and their names in Polish and English.

One copy, standard library only, so that the Slack renderer, the digest and the web pages can print an
aspect's name without importing numpy or the encoder; the detector, the corpus validator, the complaint
model and the reply templates take the order of :data:`ASPECT_KEYS` from here too.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["ASPECT_KEYS", "ASPECT_LABELS", "aspect_label"]

ASPECT_KEYS: Final[tuple[str, ...]] = (
    "delivery",
    "returns",
    "customer_service",
    "product_quality",
    "price",
    "payment",
    "website",
)
ASPECT_LABELS: Final[dict[str, dict[str, str]]] = {
    "delivery": {"en": "Delivery", "pl": "Dostawa"},
    "returns": {"en": "Returns and complaints", "pl": "Zwroty i reklamacje"},
    "customer_service": {"en": "Customer service", "pl": "Obsługa klienta"},
    "product_quality": {"en": "Product quality", "pl": "Jakość produktu"},
    "price": {"en": "Price", "pl": "Cena"},
    "payment": {"en": "Payment", "pl": "Płatność"},
    "website": {"en": "Website / app", "pl": "Strona / aplikacja"},
}


def aspect_label(aspect: str, language: Literal["pl", "en"] = "en") -> str:
    """The aspect's name for a person; an unknown code is shown as it is rather than hidden."""
    labels = ASPECT_LABELS.get(aspect)
    return labels[language] if labels else aspect
