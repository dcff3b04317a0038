"""After the model loads: its garbage collected, the rest frozen, freed heap returned."""

import json
import os
import platform
import subprocess
import sys

from deescalate.tools.build import ROOT

# Run in a child process: a frozen collector would stay frozen for the rest of the test session.
CHILD = """
import gc, json, weakref
from deescalate.loaded_process import release_free_heap, settle_after_load

class Node:
    pass

kept, cycle = Node(), Node()
cycle.self = cycle  # garbage only the cyclic collector can free
dead = weakref.ref(cycle)
del cycle
gc.disable()  # nothing collects before settle_after_load does
settle_after_load()
print(json.dumps({
    "garbage_freed": dead() is None,
    "frozen": gc.get_freeze_count(),
    "kept_frozen": not any(o is kept for o in gc.get_objects()),
    "trim": release_free_heap(),
}))
"""


def test_settling_frees_the_garbage_of_loading_and_freezes_the_rest():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["garbage_freed"] is True
    assert result["frozen"] > 1000 and result["kept_frozen"] is True
    if platform.libc_ver()[0] == "glibc":
        assert result["trim"] is True
