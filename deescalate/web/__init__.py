"""The web surfaces: agent console, chat widget, trainer review."""
