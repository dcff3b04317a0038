"""What the Rasa process does once its model is loaded, before the first turn.

Loading the model leaves a few million Python objects that live as long as
the process (spaCy's vocabulary, jieba's dictionary, Rasa's graph, the
classifiers' vocabularies), and garbage: the files read and parsed, the
float64 arrays turned into float32. Three steps, once:

1. `gc.collect()`: the garbage of loading is freed now, not frozen in step 2.
2. `gc.freeze()`: every object left moves out of the cyclic collector's
   reach, so a full collection walks only what turns created since
   (docs/performance.md: in a quick `make bench`, no full collection while
   serving; the young ones took 0.2 ms at the median).
3. glibc's `malloc_trim(0)`: the heap pages that loading freed go back to
   the system (about 9 MiB of resident memory); elsewhere than glibc this
   step is skipped.
"""

import ctypes
import ctypes.util
import gc
import logging

logger = logging.getLogger(__name__)


def settle_after_load() -> None:
    """Collect the garbage of loading, freeze what is left, return freed heap pages."""
    gc.collect()
    gc.freeze()
    release_free_heap()


def release_free_heap() -> bool:
    """glibc's malloc_trim(0); False where the C library has none."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        logger.debug("no malloc_trim in this C library: freed heap pages stay with the process")
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
