"""The de-escalation knowledge base: scripts_kb/ YAML, schema-checked on load."""

from deescalate.kb.loader import KB_DIR, KBError, KnowledgeBase, load_kb  # noqa: F401
