"""The de-escalation knowledge base: scripts_kb/ YAML, schema-checked on load."""
from deescalate.kb.loader import KBError, KnowledgeBase, load_kb  # noqa: F401
