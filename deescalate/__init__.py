"""De-escalation assistant for Chinese customer service, built on Rasa."""
