"""Rasa input channels of the product."""
