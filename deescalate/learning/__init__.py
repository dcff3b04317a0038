"""Learning from recorded cases: which lines calm customers, and ranking by it."""
