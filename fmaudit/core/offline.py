"""Keep third-party libraries off the network.

Hugging Face libraries honour HF_HUB_OFFLINE; TextAttack needs more: at import it
requires NLTK's stopword corpus and, unless a marker file exists, runs six
``nltk.download`` calls. fmaudit provisions the corpus from scikit-learn's
built-in English stop-word list into a data directory of its own and writes the
marker, so ``import textattack`` neither fails nor reaches out. WordNet (for
PWWS and the antonym constraint) is copied from Debian's ``wordnet-base`` and
``wordnet-sense-index`` files with the ``lexnames`` table NLTK also needs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

TEXTATTACK_MARKER = "post_install_check_3"
DEBIAN_WORDNET = Path("/usr/share/wordnet")
"""Where Debian's wordnet-base puts WordNet 3.0; ``FMAUDIT_WORDNET_DIR`` points elsewhere."""
WORDNET_FILES = (
    *(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")),
    *(f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")),
    "index.sense",
    "cntlist.rev",
)
LEXNAMES = (  # noqa: SIM905
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
    "adj.ppl"
).split()
"""WordNet 3.0's lexicographer files in number order (lexnames(5WN)); Debian ships them only as a man page."""
LEX_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


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


def wordnet_source() -> Path:
    """The directory holding WordNet 3.0 in its original file format."""
    return Path(os.environ.get("FMAUDIT_WORDNET_DIR", str(DEBIAN_WORDNET)))


def provision_wordnet(nltk_dir: Path) -> str | None:
    """Give NLTK a ``corpora/wordnet`` in ``nltk_dir`` copied from Debian's files; None when ready, else why not.

    Files are copied, not linked: NLTK refuses corpus paths that resolve outside its data directory.
    """
    target = nltk_dir / "corpora" / "wordnet"
    if (target / "lexnames").is_file():
        return None
    source = wordnet_source()
    missing = [name for name in WORDNET_FILES if not (source / name).is_file()]
    if missing:
        return (
            f"WordNet data missing: {source} lacks {', '.join(missing[:3])}"
            + (" ..." if len(missing) > 3 else "")
            + " (install the Debian packages wordnet-base and wordnet-sense-index, or set FMAUDIT_WORDNET_DIR)"
        )
    staging = target.with_name(f"wordnet.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in WORDNET_FILES:
        shutil.copyfile(source / name, staging / name)
    (staging / "lexnames").write_text(
        "".join(f"{i:02d}\t{name}\t{LEX_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES)),
        encoding="utf-8",
    )
    try:
        staging.rename(target)
    except OSError:  # another run provisioned it meanwhile, or a broken copy is in the way
        shutil.rmtree(staging, ignore_errors=True)
    return None if (target / "lexnames").is_file() else f"WordNet could not be provisioned into {target}"
