"""The product's own tables (cases, users, label corrections), beside Rasa's tracker store."""
