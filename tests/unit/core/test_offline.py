"""TextAttack is made importable offline by fmaudit, without any download attempt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fmaudit.core.offline import provision_nltk_stopwords


def test_stopwords_are_written_from_scikit_learn(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    provision_nltk_stopwords(tmp_path)
    words = (tmp_path / "corpora" / "stopwords" / "english").read_text().split()
    assert set(words) == set(ENGLISH_STOP_WORDS) and len(words) == 318


def test_textattack_imports_in_a_fresh_home_with_the_network_blocked(tmp_path: Path) -> None:
    """A new user: no NLTK data, no TextAttack marker. The import must neither fail nor try a download."""
    script = f"""
import socket, sys
def refuse(*a, **k):
    raise SystemExit("network attempted: " + repr(a))
socket.socket.connect = refuse
socket.getaddrinfo = refuse
import nltk
nltk.download = lambda *a, **k: (_ for _ in ()).throw(SystemExit("nltk.download attempted: " + repr(a)))
from pathlib import Path
from fmaudit.core.offline import prepare_textattack
prepare_textattack(Path({str(tmp_path / "nltk")!r}))
import textattack
from textattack.attack_recipes import DeepWordBugGao2018
print("ok")
"""
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
    assert (tmp_path / ".cache" / "textattack" / "post_install_check_3").exists()
