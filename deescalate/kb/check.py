"""`make kb-check`: validate the knowledge base, then run the compliance lint over every line a customer may hear.

    python -m deescalate.kb.check scripts_kb

The lint (deescalate/kb/lint.py, rules in scripts_kb/lint.yml) fails on
liability admitted before investigation, guarantees of outcome, return or
time, broken slot words, titles in approval talk, and any line the
agent-draft taboo check flags: a suggestion that itself breaks a taboo family
would teach agents the very thing the draft check flags. Each problem names
its file, key and rule.
"""

import sys
from pathlib import Path
from typing import List

from deescalate.kb.lint import lint_kb
from deescalate.kb.loader import KBError, KnowledgeBase, load_kb


def taboo_violations(kb: KnowledgeBase) -> List[str]:
    """One message per customer-facing line that a taboo family flags."""
    return [str(finding) for finding in lint_kb(kb) if finding.kind == "taboo"]


def main(argv: List[str]) -> int:
    root = Path(argv[0] if argv else "scripts_kb")
    try:
        kb = load_kb(root)
    except KBError as error:
        print(f"knowledge base error: {error}", file=sys.stderr)
        return 1
    findings = lint_kb(kb)
    for finding in findings:
        print(f"compliance lint: {finding}", file=sys.stderr)
    if findings:
        print(f"knowledge base lint failed: {len(findings)} problem(s)", file=sys.stderr)
        return 1
    size = kb.size()
    print(
        f"knowledge base OK: {size['causes']} causes, {size['cause_domains']} cause×domain entries, "
        f"{size['cause_lines']} cause lines, {size['taboo_entries']} taboo families; compliance lint clean, "
        f"every customer-facing line passes the taboo check"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
