"""Which trained model the servers use: the one `make retrain` promoted, if any.

A small file beside the cached models, `serving.yml`, names the promoted model
and the ones promoted before it. Without that file nothing has been promoted
and `make run` uses the model of the current data, as it always did.
`make rollback` goes back one step; past the first promotion it removes the
file, which is the state before any promotion.
"""

import datetime as dt
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from deescalate.tools.build import cache_dir

POINTER = "serving.yml"
KEEP = 5  # earlier promotions remembered for rollback


class ServingError(Exception):
    """The pointer names a model that is gone, or there is nothing to roll back to."""


def pointer_path(cache: Optional[Path] = None) -> Path:
    return (cache or cache_dir()) / POINTER


def read_pointer(cache: Optional[Path] = None) -> Dict[str, Any]:
    path = pointer_path(cache)
    if not path.exists():
        return {"current": None, "previous": []}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {"current": data.get("current"), "previous": list(data.get("previous") or [])}


def _write(pointer: Dict[str, Any], cache: Optional[Path]) -> None:
    """Write the pointer whole or not at all (a reader never sees half a file)."""
    path = pointer_path(cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{POINTER}.{os.getpid()}")
    temporary.write_text(
        "# The promoted model (make retrain) and earlier ones (make rollback).\n"
        + yaml.safe_dump(pointer, sort_keys=False),
        encoding="utf-8",
    )
    os.replace(temporary, path)


def serving_model(cache: Optional[Path] = None) -> Optional[Path]:
    """The promoted model, or None when nothing has been promoted."""
    current = read_pointer(cache)["current"]
    if not current:
        return None
    path = (cache or cache_dir()) / current["model"]
    if not path.exists():
        raise ServingError(f"the promoted model {path} is missing: `make rollback` or `make retrain`")
    return path


def promote(model: Path, cache: Optional[Path] = None) -> None:
    """Serve `model` (a file in the model cache) from now on; the one before stays for rollback."""
    cache = cache or cache_dir()
    if model.parent.resolve() != cache.resolve() or not model.exists():
        raise ServingError(f"{model} is not a model in {cache}")
    pointer = read_pointer(cache)
    previous: List[Dict[str, Any]] = pointer["previous"]
    if pointer["current"]:
        previous = [pointer["current"], *previous][:KEEP]
    stamp = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    _write({"current": {"model": model.name, "promoted_at": stamp}, "previous": previous}, cache)


def rollback(cache: Optional[Path] = None) -> Optional[Path]:
    """Serve the model promoted before the current one; None: back to no promotion."""
    cache = cache or cache_dir()
    pointer = read_pointer(cache)
    if not pointer["current"]:
        raise ServingError("nothing has been promoted: there is nothing to roll back")
    if not pointer["previous"]:
        pointer_path(cache).unlink()
        return None
    earlier, *rest = pointer["previous"]
    path = cache / earlier["model"]
    if not path.exists():
        raise ServingError(f"the earlier model {path} is missing from the cache: nothing rolled back")
    _write({"current": earlier, "previous": rest}, cache)
    return path
