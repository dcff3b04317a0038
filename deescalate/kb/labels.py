"""Chinese names of contract values for the web pages, from the knowledge base.

Uses the full knowledge base when it loads; otherwise scripts_kb/labels.yml
and approval.yml alone, so a half-edited KB never takes a page down.
"""

import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from deescalate.assist.risk import approval_tier
from deescalate.contract import CAUSES, DOMAINS, EMOTIONS, ESCALATIONS
from deescalate.kb.loader import KB_DIR, load_kb

logger = logging.getLogger(__name__)


class Labels:
    """Chinese names of contract values, retrying a knowledge base that did not load."""

    RETRY_SECONDS = 30.0

    def __init__(self, root: Path = KB_DIR) -> None:
        self.root = root
        self._kb: Any = None
        self._loaded_at = float("-inf")
        self._plain: Dict[str, Any] = {}
        self._approval: Dict[str, Any] = {}

    def _load(self) -> None:
        if self._kb is not None or time.monotonic() - self._loaded_at < self.RETRY_SECONDS:
            return
        self._loaded_at = time.monotonic()
        try:
            self._kb = load_kb(self.root)
            self._approval = self._kb.approval
            return
        except Exception as error:  # any broken KB file: fall back to the plain label files
            logger.warning("knowledge base not loaded, showing plain labels: %s", error)
        for name, target in (("labels.yml", "_plain"), ("approval.yml", "_approval")):
            try:
                setattr(self, target, yaml.safe_load((self.root / name).read_text(encoding="utf-8")) or {})
            except (OSError, yaml.YAMLError):
                setattr(self, target, {})

    @property
    def kb(self) -> Any:
        """The loaded knowledge base, or None while it does not load."""
        self._load()
        return self._kb

    def label(self, group: str, name: Optional[str]) -> str:
        if not name:
            return ""
        self._load()
        if self._kb is not None:
            try:
                return self._kb.label(group, name)
            except (KeyError, AttributeError):
                return name
        return str((self._plain.get(group) or {}).get(name, name))

    def approver(self, role: Optional[str]) -> str:
        self._load()
        return str((self._approval.get("roles") or {}).get(role, role or ""))

    def approval(self, amount: Optional[float], domain: Optional[str]) -> Optional[Dict[str, Any]]:
        """The tier of the domain's own matrix for what the company would bear."""
        self._load()
        if not self._approval.get("matrices"):
            return None
        return approval_tier(self._approval, amount, domain)

    def group(self, group: str, names: List[str]) -> Dict[str, str]:
        return {name: self.label(group, name) for name in names}

    def for_client(self) -> Dict[str, Dict[str, str]]:
        """Every label the case page's script needs, in one object."""
        self._load()
        plain = self._kb.labels if self._kb is not None else self._plain
        result = {
            group: self.group(group, list((plain.get(group) or {}).keys()))
            for group in ("stages", "demands", "risks", "kinds", "statuses", "channels", "alerts")
        }
        result["causes"] = {
            **self.group("intents", list((plain.get("intents") or {}).keys())),
            **self.group("causes", list(CAUSES)),
        }
        result["domains"] = self.group("domains", list(DOMAINS))
        result["emotions"] = self.group("emotions", list(EMOTIONS))
        result["escalation"] = self.group("escalation", list(ESCALATIONS))
        result["approvers"] = {role: self.approver(role) for role in (self._approval.get("roles") or {})}
        return result


labels = Labels()
