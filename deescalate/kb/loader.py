"""Loads scripts_kb/ and refuses a broken knowledge base.

Every file is validated against its kind's JSON schema in scripts_kb/schema.yml,
then checked across files: every cause of the contract has a file with an entry
for each of its domains, every template variable is known, every choice names
a known approver, every taboo regex compiles (the taboo families are checked
against the knowledge base's own lines by `make kb-check`, deescalate/kb/check.py). The first problem raises
KBError naming the file and the key at fault, so a trainer can fix the edit.
"""

import fnmatch
import hashlib
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import jsonschema
import yaml

from deescalate.contract import CAUSE_DOMAINS

# The knowledge base every server loads: the KB_DIR environment variable, else scripts_kb/ of the project.
KB_DIR = Path(os.environ.get("KB_DIR") or Path(__file__).resolve().parents[2] / "scripts_kb")
SCHEMA_FILE = "schema.yml"
SPECIAL_APPROVERS = ("by_amount", "none")
# Files that wrap their content in one key: kind -> (key, attribute of KnowledgeBase).
_WRAPPED_KINDS = {"stages": "stages", "taboo": "taboo", "domains": "domains", "case_facts": "facts", "lint": "rules"}


class KBError(ValueError):
    """A knowledge-base file that cannot be used, with where the fault is."""

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file, self.key, self.message = file, key, message


@dataclass
class KnowledgeBase:
    root: Path
    causes: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    empathy: Dict[str, Any] = field(default_factory=dict)
    stages: Dict[str, Any] = field(default_factory=dict)
    taboo: List[Dict[str, Any]] = field(default_factory=list)
    escalation: Dict[str, Any] = field(default_factory=dict)
    approval: Dict[str, Any] = field(default_factory=dict)
    domains: Dict[str, Any] = field(default_factory=dict)
    voice: Dict[str, Any] = field(default_factory=dict)
    labels: Dict[str, Any] = field(default_factory=dict)
    case_facts: Dict[str, Any] = field(default_factory=dict)
    lint: List[Dict[str, Any]] = field(default_factory=list)
    sources: Dict[str, str] = field(default_factory=dict)

    def source(self, kind_or_cause: str) -> str:
        """The file path (relative to the project) a suggestion came from."""
        return self.sources[kind_or_cause]

    def label(self, group: str, name: Optional[str]) -> str:
        """The Chinese name of a contract value: group is 'causes', 'emotions',
        'escalation', 'domains' or a key of labels.yml."""
        if not name:
            return ""
        if group == "causes":
            return self.causes[name]["label"] if name in self.causes else self.labels["intents"].get(name, name)
        if group == "emotions":
            return self.empathy["emotions"].get(name, {}).get("label", name)
        if group == "escalation":
            return self.escalation["escalation"].get(name, {}).get("label", name)
        if group == "domains":
            return self.domains.get(name, {}).get("label", name)
        return self.labels[group].get(name, name)

    def size(self) -> Dict[str, int]:
        """Counts of causes, cause×domain entries and lines, for reports."""
        entries = [entry for cause in self.causes.values() for entry in cause["domains"].values()]
        lines = sum(len(list(_strings(entry))) for entry in entries)
        return {
            "causes": len(self.causes),
            "cause_domains": len(entries),
            "cause_lines": lines,
            "taboo_entries": len(self.taboo),
        }


def line_id(source: str, text: str) -> str:
    """A stable id for a line: its file stem and a short hash of its text."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{Path(source).stem}-{digest}"


def _read_yaml(path: Path, display: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise KBError(display, "(file)", f"not valid YAML: {error}") from error


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _validate(data: Any, schema: Dict[str, Any], display: str) -> None:
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        raise KBError(display, _key_path(error), error.message)


def _strings(node: Any, path: str = "") -> Iterator[Tuple[str, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")


def _check_template_variables(data: Any, allowed: List[str], display: str) -> None:
    formatter = string.Formatter()
    for key, text in _strings(data):
        if key.endswith("patterns") or ".patterns[" in key or ".fair[" in key:
            continue
        try:
            names = [name for _, name, _, _ in formatter.parse(text) if name is not None]
        except ValueError as error:
            raise KBError(display, key, f"broken template braces: {error}") from error
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise KBError(display, key, f"unknown template variable {{{unknown[0]}}}; allowed: {allowed}")


def _files_of_kind(root: Path, pattern: str) -> List[Path]:
    return sorted(p for p in root.rglob("*.yml") if fnmatch.fnmatch(p.relative_to(root).as_posix(), pattern))


def load_kb(root: Path) -> KnowledgeBase:
    """Load and check every file in the knowledge-base folder `root`."""
    root = Path(root)
    schema_doc = _read_yaml(root / SCHEMA_FILE, f"{root.name}/{SCHEMA_FILE}")
    allowed_vars = schema_doc["template_variables"]
    kb = KnowledgeBase(root=root)
    for kind, spec in schema_doc["kinds"].items():
        paths = _files_of_kind(root, spec["files"])
        if not paths:
            raise KBError(f"{root.name}/{spec['files']}", "(file)", f"missing: no {kind} file")
        for path in paths:
            display = f"{root.name}/{path.relative_to(root).as_posix()}"
            data = _read_yaml(path, display)
            _validate(data, spec["schema"], display)
            _check_template_variables(data, allowed_vars + spec.get("extra_variables", []), display)
            _store(kb, kind, data, display)
    _check_cross_references(kb)
    return kb


def _store(kb: KnowledgeBase, kind: str, data: Dict[str, Any], display: str) -> None:
    if kind == "cause":
        cause = data["cause"]
        if Path(display).stem != cause:
            raise KBError(display, "cause", f"'{cause}' does not match the file name")
        kb.causes[cause] = data
        kb.sources[cause] = display
        return
    # stages.yml, taboo.yml and domains.yml wrap their content in one key of the
    # same name; the other kinds keep several top-level keys.
    setattr(kb, kind, data[_WRAPPED_KINDS[kind]] if kind in _WRAPPED_KINDS else data)
    kb.sources[kind] = display


def _check_cross_references(kb: KnowledgeBase) -> None:
    for cause, domains in CAUSE_DOMAINS.items():
        if cause not in kb.causes:
            raise KBError(f"scripts_kb/causes/{cause}.yml", "(file)", "missing: every contract cause needs a file")
        missing = [d for d in domains if d not in kb.causes[cause]["domains"]]
        if missing:
            raise KBError(kb.sources[cause], "domains", f"missing entry for domain '{missing[0]}'")
    roles = set(kb.approval["roles"])
    for domain, tiers in kb.approval["matrices"].items():
        for tier_index, tier in enumerate(tiers):
            if tier["role"] not in roles:
                raise KBError(
                    kb.sources["approval"], f"matrices.{domain}[{tier_index}].role", f"unknown role '{tier['role']}'"
                )
    for cause, data in kb.causes.items():
        for domain, entry in data["domains"].items():
            for index, choice in enumerate(entry["choices"]):
                if choice["approver"] not in roles and choice["approver"] not in SPECIAL_APPROVERS:
                    raise KBError(
                        kb.sources[cause],
                        f"domains.{domain}.choices[{index}].approver",
                        f"unknown approver '{choice['approver']}'; use a role from approval.yml, by_amount or none",
                    )
                domain_roles = {tier["role"] for tier in kb.approval["matrices"][domain]}
                if choice["approver"] in roles and choice["approver"] not in domain_roles:
                    raise KBError(
                        kb.sources[cause],
                        f"domains.{domain}.choices[{index}].approver",
                        f"'{choice['approver']}' is not in the {domain} approval matrix",
                    )
    check_conditions(kb)
    _check_patterns(kb.sources["case_facts"], "facts", {n: f for n, f in kb.case_facts.items()})
    _check_patterns(kb.sources["lint"], "rules", dict(enumerate(kb.lint)))
    for index, entry in enumerate(kb.taboo):
        for key in ("patterns", "fair"):
            for pattern_index, pattern in enumerate(entry.get(key, [])):
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise KBError(
                        kb.sources["taboo"],
                        f"taboo[{index}].{key}[{pattern_index}]",
                        f"not a valid regular expression: {error}",
                    ) from error


def _check_patterns(source: str, key: str, entries: Dict[Any, Dict[str, Any]]) -> None:
    for name, entry in entries.items():
        for list_key in ("patterns", "allow"):
            for index, pattern in enumerate(entry.get(list_key, [])):
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise KBError(
                        source, f"{key}.{name}.{list_key}[{index}]", f"not a valid regular expression: {error}"
                    ) from error


def known_fact_names(kb: KnowledgeBase) -> List[str]:
    """Every name a condition may use: facts.yml's and those the engine adds."""
    from deescalate.kb.lines import ENGINE_FACTS

    return list(kb.case_facts) + list(ENGINE_FACTS)


def check_conditions(kb: KnowledgeBase) -> None:
    """Every `when`, `borne`, `tags` and `asks` in the cause files reads known facts."""
    from deescalate.kb.conditions import ConditionError, condition, expressions
    from deescalate.kb.lines import conditioned_items

    names = set(known_fact_names(kb))
    tags = {value for spec in kb.case_facts.values() for value in (spec.get("values") or {})}
    for name, spec in kb.case_facts.items():
        for index, source_text in enumerate(spec.get("from", [])):
            try:
                parsed = condition(source_text)
            except ConditionError as error:
                raise KBError(kb.sources["case_facts"], f"facts.{name}.from[{index}]", str(error)) from error
            if parsed.names - names:
                raise KBError(
                    kb.sources["case_facts"],
                    f"facts.{name}.from[{index}]",
                    f"unknown fact '{sorted(parsed.names - names)[0]}'",
                )
    for source, key, item in conditioned_items(kb):
        fields = [("when", item["when"])] if "when" in item else []
        fields += [("borne", text) for text in expressions(item["borne"])] if "borne" in item else []
        for field_name, text in fields:
            try:
                parsed = condition(text)
            except ConditionError as error:
                raise KBError(source, f"{key}.{field_name}", str(error)) from error
            unknown = sorted(parsed.names - names)
            if unknown:
                raise KBError(source, f"{key}.{field_name}", f"unknown fact '{unknown[0]}'; facts: {sorted(names)}")
        for tag in item.get("tags", []):
            if tag not in tags:
                raise KBError(source, f"{key}.tags", f"unknown scenario tag '{tag}'; tags are values in facts.yml")
        if "asks" in item and item["asks"] not in names:
            raise KBError(source, f"{key}.asks", f"unknown fact '{item['asks']}'")
