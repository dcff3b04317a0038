"""`make kb-check`: validate the knowledge base and print its size.

    python -m deescalate.kb.check scripts_kb
"""
import sys
from pathlib import Path

from deescalate.kb.loader import KBError, load_kb


def main(argv: list) -> int:
    root = Path(argv[0] if argv else "scripts_kb")
    try:
        kb = load_kb(root)
    except KBError as error:
        print(f"knowledge base error: {error}", file=sys.stderr)
        return 1
    size = kb.size()
    print(f"knowledge base OK: {size['causes']} causes, {size['cause_domains']} cause×domain entries, "
          f"{size['cause_lines']} cause lines, {size['taboo_entries']} taboo entries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
