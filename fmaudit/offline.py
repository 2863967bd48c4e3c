"""Keep third-party libraries off the network.

Hugging Face libraries honour HF_HUB_OFFLINE; TextAttack needs more: at import it
requires NLTK's stopword corpus and, unless a marker file exists, runs six
``nltk.download`` calls. fmaudit provisions the corpus from scikit-learn's
built-in English stop-word list into a data directory of its own and writes the
marker, so ``import textattack`` neither fails nor reaches out.
"""

from __future__ import annotations

import os
from pathlib import Path

TEXTATTACK_MARKER = "post_install_check_3"


def enforce_offline() -> None:
    """Tell the Hugging Face stack to use local files only (before it is imported)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def textattack_cache_dir() -> Path:
    """Where TextAttack looks for its post-install marker (it reads TA_CACHE_DIR, else ~/.cache/textattack)."""
    return Path(os.environ.get("TA_CACHE_DIR", os.path.expanduser("~/.cache/textattack")))


def provision_nltk_stopwords(nltk_dir: Path) -> Path:
    """Write NLTK's ``corpora/stopwords/english`` from scikit-learn's list; return the data dir."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    target = nltk_dir / "corpora" / "stopwords" / "english"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text("\n".join(sorted(ENGLISH_STOP_WORDS)) + "\n", encoding="utf-8")
        tmp.replace(target)
    return nltk_dir


def prepare_textattack(nltk_dir: Path) -> None:
    """Make ``import textattack`` work offline; call before importing it."""
    enforce_offline()
    provision_nltk_stopwords(nltk_dir)
    import nltk

    if str(nltk_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(nltk_dir))
    marker = textattack_cache_dir() / TEXTATTACK_MARKER
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
