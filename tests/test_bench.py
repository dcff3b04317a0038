"""The pure parts of `make bench` (deescalate/tools/bench/run.py): percentiles, growth
windows, target evaluation, annotation stripping, settings and the process tree."""

import math
import os
import statistics

import pytest

from deescalate.tools.bench.drive import rotated
from deescalate.tools.bench.measures import window_labels
from deescalate.tools.bench.processes import process_tree, tree_memory_mib
from deescalate.tools.bench.settings import (
    TARGETS,
    BenchError,
    evaluate_targets,
    load_settings,
    load_utterances,
    merge,
    percentile,
    ratio,
    strip_annotations,
    summarize,
    target_figures,
    window_means,
)

# ---------------------------------------------------------------- percentiles


def test_percentile_interpolates_between_ranks_like_numpy():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 100


def test_percentile_does_not_depend_on_input_order():
    values = [30.0, 10.0, 20.0, 40.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 25) == pytest.approx(17.5)
    assert percentile(list(reversed(values)), 75) == pytest.approx(32.5)


def test_percentile_of_one_value_and_bad_arguments():
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_percentile_agrees_with_the_standard_library():
    values = [((i * 37) % 101) / 3 for i in range(250)]
    inclusive = statistics.quantiles(values, n=100, method="inclusive")  # cut points 1..99
    for q in (5, 50, 95, 99):
        assert percentile(values, q) == pytest.approx(inclusive[q - 1])


def test_summarize_reports_count_percentiles_mean_and_max():
    summary = summarize([10.0] * 98 + [100.0, 200.0])
    assert summary["n"] == 100
    assert summary["p50"] == 10.0 and summary["max"] == 200.0
    assert summary["p99"] == pytest.approx(101.0)  # between the 99th (100) and 100th (200) ranks
    assert summary["mean"] == pytest.approx(12.8)


# ---------------------------------------------------------------- growth and ratios


def test_window_means_compare_the_first_and_last_turns():
    series = [1.0] * 10 + [5.0] * 80 + [3.0] * 10
    assert window_means(series, 10) == (1.0, 3.0)
    with pytest.raises(ValueError):
        window_means([1.0, 2.0], 10)


def test_window_labels_name_the_turn_ranges():
    assert window_labels(100, 10) == {"first": "1–10", "last": "91–100"}


def test_ratio_refuses_a_zero_denominator():
    assert ratio(3.0, 2.0) == 1.5
    with pytest.raises(ValueError):
        ratio(1.0, 0.0)


def test_rotated_changes_who_goes_first_and_keeps_everyone():
    assert rotated(["a", "b", "c"], 1) == ["b", "c", "a"]
    assert rotated(["a", "b", "c"], 5) == ["c", "a", "b"]


# ---------------------------------------------------------------- targets


def measured(
    assist_p50: float = 60.0,
    floor_p50: float = 40.0,
    growth: float = 1.1,
    p99: float = 90.0,
    rss: float = 900.0,
    taboo_p95: float = 12.0,
    assist_tps: float = 30.0,
    floor_tps: float = 24.0,
) -> dict:
    return {
        "single_stream": {"targets": {"assist": {"p50": assist_p50, "p99": p99}, "floor_action": {"p50": floor_p50}}},
        "growth": {"targets": {"assist": {"growth": growth}}},
        "concurrent": {"assist": {"turns_per_s": assist_tps}, "floor_action": {"turns_per_s": floor_tps}},
        "memory": {"total_mib": rss},
        "taboo_check": {"p50": 5.0, "p95": taboo_p95},
    }


LIMITS = {
    "assist_p50_over_trivial_action_p50": 1.3,
    "growth_last_over_first": 1.2,
    "concurrent_turns_over_trivial_action": 1.5,
    "assist_p99_ms": 100,
    "servers_rss_mib": 1536,
}


def test_targets_compare_the_right_figures():
    figures = target_figures(measured())
    assert figures["assist_p50_over_trivial_action_p50"] == pytest.approx(1.5)  # 60 / 40, not 40 / 60
    assert figures["assist_p99_ms"] == 90.0 and figures["servers_rss_mib"] == 900.0
    assert figures["taboo_check_p95_ms"] == 12.0
    assert figures["concurrent_turns_over_trivial_action"] == pytest.approx(1.25)  # 30 / 24


def test_a_throughput_target_must_be_reached_not_stayed_under():
    results = {t.name: t for t in evaluate_targets(target_figures(measured()), LIMITS)}
    assert not results["concurrent_turns_over_trivial_action"].ok  # 1.25 < 1.5
    faster = target_figures(measured(assist_tps=40.0, floor_tps=24.0))  # 1.67
    reached = evaluate_targets(faster, {"concurrent_turns_over_trivial_action": 1.5})[0]
    assert reached.ok and reached.as_dict()["at_least"] is True


def test_target_passes_at_or_below_its_limit_and_fails_above():
    results = {t.name: t for t in evaluate_targets(target_figures(measured()), LIMITS)}
    assert not results["assist_p50_over_trivial_action_p50"].ok  # 1.5 > 1.3
    assert results["assist_p50_over_trivial_action_p50"].ratio == pytest.approx(1.5 / 1.3)
    assert results["growth_last_over_first"].ok  # 1.1 ≤ 1.2
    assert results["assist_p99_ms"].ok and results["assist_p99_ms"].ratio == pytest.approx(0.9)
    assert results["servers_rss_mib"].ok
    at_limit = evaluate_targets({"assist_p99_ms": 100.0}, {"assist_p99_ms": 100})[0]
    assert at_limit.ok and at_limit.ratio == 1.0
    over = evaluate_targets({"servers_rss_mib": 1600.0}, {"servers_rss_mib": 1536})[0]
    assert not over.ok and over.as_dict()["ok"] is False


def test_growth_target_label_names_the_windows():
    result = evaluate_targets({"growth_last_over_first": 1.3}, {"growth_last_over_first": 1.2}, window_labels(100, 10))[
        0
    ]
    assert result.label == "assist turns 91–100 / turns 1–10" and not result.ok


def test_unknown_or_unmeasured_targets_are_errors():
    with pytest.raises(BenchError):
        evaluate_targets({}, {"assist_p50_ms": 50})  # a typo in bench.yml
    with pytest.raises(BenchError):
        evaluate_targets({}, {"assist_p99_ms": 100})


def test_bench_yml_sets_every_target_and_quick_counts_are_smaller():
    full, quick = load_settings(), load_settings(quick=True)
    assert set(full["targets"]) == set(TARGETS)
    assert full["targets"]["servers_rss_mib"] == 909
    assert full["targets"]["assist_p50_over_trivial_action_p50"] == 0.8
    assert full["targets"]["taboo_check_p95_ms"] == 20
    assert quick["taboo_checks"] < full["taboo_checks"]
    assert quick["single_stream"]["turns"] < full["single_stream"]["turns"]
    assert quick["single_stream"]["case_turns"] == full["single_stream"]["case_turns"]  # merged, not replaced
    assert quick["growth"]["turns"] >= 2 * quick["growth"]["window"]
    assert "quick" not in full


def test_merge_overrides_nested_keys_only():
    assert merge({"a": {"x": 1, "y": 2}, "b": 3}, {"a": {"y": 5}}) == {"a": {"x": 1, "y": 5}, "b": 3}


# ---------------------------------------------------------------- utterances


@pytest.mark.parametrize(
    "text, plain",
    [
        ('那笔是[1200元]{"entity": "amount", "value": "1200"}', "那笔是1200元"),
        ("在大厅的[ATM](product)取钱", "在大厅的ATM取钱"),
        ('我要[投诉到银保监](escalation)，还要[退款]{"entity": "demand"}', "我要投诉到银保监，还要退款"),
        ("没有标注的[括号]和(圆括号)不动", "没有标注的[括号]和(圆括号)不动"),
        ("普通的一句话", "普通的一句话"),
    ],
)
def test_strip_annotations(text, plain):
    assert strip_annotations(text) == plain


def test_held_out_utterances_load_without_markup():
    utterances = load_utterances()
    assert len(utterances) > 100
    assert not any("](" in u or "]{" in u for u in utterances)
    assert all(u == u.strip() and u for u in utterances)


# ---------------------------------------------------------------- process tree


def test_process_tree_follows_children_and_grandchildren():
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 11, 20: 1, 30: 99}
    assert sorted(process_tree(10, parents)) == [10, 11, 12, 13]
    assert process_tree(30, parents) == [30]


def test_memory_of_this_process_is_read_from_proc():
    memory = tree_memory_mib(os.getpid())
    assert memory["processes"] >= 1
    assert 1 < memory["rss_mib"] <= memory["hwm_mib"] and math.isfinite(memory["rss_mib"])
