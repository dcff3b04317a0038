"""The evaluation reports' shared markdown: one table for our scores and scikit-learn's."""

from deescalate.tools.markdown import confused_pairs, scores_table


def test_scores_table_reads_both_score_styles() -> None:
    ours = {"amount": {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 4}}
    sklearn = {"claim_denied": {"precision": 0.8, "recall": 0.75, "f1-score": 0.774, "support": 12.0}}
    assert scores_table("entity", ours)[2] == "| amount | 1.000 | 0.500 | 0.667 | 4 |"
    assert scores_table("cause", sklearn)[2] == "| claim_denied | 0.800 | 0.750 | 0.774 | 12 |"
    assert scores_table("cause", sklearn)[0].startswith("| cause | precision")


def test_confused_pairs_keeps_the_most_frequent_first_n() -> None:
    pairs = [{"gold": f"g{i}", "predicted": f"p{i}", "count": 10 - i} for i in range(8)]
    lines = confused_pairs("Most confused:", pairs, most=3)
    assert lines == ["Most confused:", "- g0 → p0: 10", "- g1 → p1: 9", "- g2 → p2: 8"]
