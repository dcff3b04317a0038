"""Assist logic: from one parsed customer turn and the case so far to the answer."""
