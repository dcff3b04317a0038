"""Trainer review: recorded cases, label corrections and their export as NLU data, statistics."""
