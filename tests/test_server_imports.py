"""The web server and the action server start without the NLU's heavy libraries.

Only the Rasa process needs Rasa, TensorFlow, spaCy, jieba and the n-gram
classifiers; each of these, imported by another server, would cost it tens of
MiB for nothing (docs/performance.md, memory). The web server loads the
taboo checker of the trainer review, with NumPy and scikit-learn, only when a
page first needs it.
"""

import json
import os
import subprocess
import sys

import pytest

from deescalate.tools.build import ROOT

HEAVY = ["rasa", "tensorflow", "spacy", "jieba", "sklearn", "scipy", "numpy"]

STARTS = {
    "web server": "from deescalate.web.app import create_app; create_app()",
    "action server": "import rasa_sdk.endpoint, actions.assist",
}


@pytest.mark.parametrize("server", sorted(STARTS))
def test_a_server_imports_no_nlu_library(server, tmp_path):
    code = f"import json, sys; {STARTS[server]}; print(json.dumps(sorted(set(sys.modules) & set({HEAVY!r}))))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'cases.db'}"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_review_loads_its_taboo_checker_when_first_needed():
    code = (
        "import json, sys; from deescalate.web.app import create_app; create_app(); "
        "from deescalate.web.review import taboo; before = 'sklearn' in sys.modules; "
        "found = taboo.get().check('这是您自己的问题，改不了'); "
        "print(json.dumps([before, 'sklearn' in sys.modules, [f['id'] for f in found]]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    before, after, found = json.loads(done.stdout.strip().splitlines()[-1])
    assert (before, after) == (False, True) and found
