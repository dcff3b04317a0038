"""Names fixed by shared/spec/contract.md.

Evaluation data and outside clients depend on these strings: add, never rename.
"""

from typing import Dict, Tuple

DOMAINS: Tuple[str, ...] = ("bank", "insurance", "metro")

CAUSE_DOMAINS: Dict[str, Tuple[str, ...]] = {
    "mis_selling": ("insurance", "bank"),
    "exaggerated_returns": ("insurance", "bank"),
    "investment_loss": ("bank", "insurance"),
    "surrender_loss": ("insurance",),
    "slow_processing": ("bank", "insurance"),
    "atm_malfunction": ("bank",),
    "verification_friction": ("bank",),
    "paperwork_hassle": ("bank", "insurance"),
    "privacy_concern": ("bank", "insurance"),
    "fees_and_charges": ("bank", "insurance", "metro"),
    "service_attitude": ("bank", "insurance", "metro"),
    "long_wait": ("bank", "metro"),
    "hotline_unreachable": ("bank", "insurance"),
    "no_follow_up": ("insurance", "bank"),
    "metro_delay": ("metro",),
    "metro_fare_ticketing": ("metro",),
    "metro_facilities_crowding": ("metro",),
    "claim_denied": ("insurance",),
    "debt_collection": ("bank",),
    "account_restriction": ("bank",),
    "unauthorized_transaction": ("bank",),
    "repayment_hardship": ("bank",),
}
CAUSES: Tuple[str, ...] = tuple(CAUSE_DOMAINS)

CONVERSATION_INTENTS: Tuple[str, ...] = (
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "request_human",
    "demand_compensation",
    "choose_option",
    "provide_info",
    "ask_status",
    "out_of_scope",
    "threaten_escalation",
)
INTENTS: Tuple[str, ...] = CAUSES + CONVERSATION_INTENTS

EMOTIONS: Tuple[str, ...] = ("calm", "confused", "anxious", "angry", "furious")
# The emotions that count as upset against calm (and confused) in the figures
# and in reading a long message phrase by phrase.
UPSET: Tuple[str, ...] = ("angry", "furious", "anxious")

ESCALATIONS: Tuple[str, ...] = (
    "regulator",
    "consumer_association",
    "media",
    "legal",
    "police",
    "self_harm_or_violence",
    "mass_incident",
)
DEMANDS: Tuple[str, ...] = (
    "full_refund",
    "compensation",
    "apology",
    "explanation",
    "escalate_to_manager",
    "expedite",
    "cancel_product",
    "staff_discipline",
)
ENTITIES: Tuple[str, ...] = ("escalation", "amount", "demand", "product")

SUGGESTION_KINDS: Tuple[str, ...] = (
    "empathy",
    "explanation",
    "question",
    "choices",
    "commitment",
    "closing",
    "escalation",
)
RISKS: Tuple[str, ...] = ("low", "medium", "high")
STAGES: Tuple[str, ...] = (
    "listen",
    "empathize",
    "clarify",
    "offer_choices",
    "agree",
    "follow_up",
    "close",
)
ALERT_KINDS: Tuple[str, ...] = ("supervisor", "approval", "taboo", "handoff")
