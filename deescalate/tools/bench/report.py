"""The bench table printed at the end of a run."""

from typing import Any, Dict, Iterator, List

# ---------------------------------------------------------------- the table


def latency_rows(single: Dict[str, Dict[str, float]]) -> Iterator[str]:
    labels = {
        "assist": "assist API (ours)",
        "floor_parse": "floor a: /model/parse, our model",
        "floor_utter": "floor b: REST turn, utter_ response",
        "floor_action": "floor c: REST turn, trivial action",
    }
    yield f"  {'':38}{'p50':>8}{'p95':>8}{'p99':>8}{'mean':>8}{'max':>8}   ms"
    for name, label in labels.items():
        s = single[name]
        yield f"  {label:38}{s['p50']:8.1f}{s['p95']:8.1f}{s['p99']:8.1f}{s['mean']:8.1f}{s['max']:8.1f}"


def growth_rows(growth_result: Dict[str, Any]) -> Iterator[str]:
    window, turns = growth_result["window"], growth_result["turns"]
    labels = {
        "assist": "assist API (ours)",
        "floor_action": "floor c: trivial action",
        "floor_utter": "floor b: utter_ response",
    }
    yield (
        f"  {'':30}{f'turns 1–{window}':>14}{f'turns {turns - window + 1}–{turns}':>16}{'ratio':>8}"
        f"   mean ms; tracker after turn {turns}"
    )
    for name, label in labels.items():
        g, size = growth_result["targets"][name], growth_result["trackers"][name]
        yield (
            f"  {label:30}{g['first_mean']:14.1f}{g['last_mean']:16.1f}{g['growth']:7.2f}×"
            f"   {size['events']:.0f} events, {size['kib']:.0f} KiB"
        )


def memory_rows(memory: Dict[str, Any]) -> Iterator[str]:
    for name, m in memory["servers"].items():
        yield f"  {name:30}{m['rss_mib']:8.0f} MiB   (peak {m['hwm_mib']:.0f}, {m['processes']} process(es))"
    yield f"  {'total (ours)':30}{memory['total_mib']:8.0f} MiB"
    floors = ", ".join(f"{n[len('floor_') :]} {m['rss_mib']:.0f}" for n, m in memory["floors"].items())
    yield f"  floor bots, for reference: {floors} MiB"


def target_rows(targets: List[Dict[str, Any]]) -> Iterator[str]:
    for t in targets:
        unit = t["unit"]
        figure = f"{t['figure']:.2f}{unit}" if unit == "×" else f"{t['figure']:.0f} {unit}"
        limit = f"{t['limit']:.2f}{unit}" if unit == "×" else f"{t['limit']:.0f} {unit}"
        sign = "≥" if t.get("at_least") else "≤"
        yield (
            f"  {t['label']:50}{figure:>10}   target {sign} {limit:<9} {t['ratio_to_limit']:5.2f} of target  "
            f"{'✔' if t['ok'] else '✘'}"
        )


def table(result: Dict[str, Any]) -> str:
    machine, single = result["machine"], result["single_stream"]
    throughput, train = result["parse_throughput"], result["train"]
    lines = [
        f"bench {machine['started']}: {machine['cores']} cores, load {machine['loadavg'][0]:.2f} before, "
        f"{machine['loadavg_after'][0]:.2f} after; Rasa {machine['rasa']}, {result['utterances']} utterances "
        "(tests/nlu_test)",
        *(
            ["NOTE: the machine was busy before the run (load ≥ 1.0): figures may be inflated"]
            if machine["loadavg"][0] >= 1.0
            else []
        ),
        "",
        f"single stream: {single['turns']} turns per target, continuing cases of {single['case_turns']} turns, "
        "targets interleaved turn by turn",
        *latency_rows(single["targets"]),
        "",
        f"parse throughput: {throughput['parses_per_s']:.1f} parses/s with {throughput['clients']} clients "
        f"({throughput['parses']} parses; p50 {throughput['p50']:.1f} ms, p95 {throughput['p95']:.1f} ms)",
        "",
        f"latency growth: one case of {result['growth']['turns']} turns per target",
        *growth_rows(result["growth"]),
        "",
    ]
    for name, c in result["concurrent"].items():
        label = "assist API" if name == "assist" else "floor c: trivial action"
        lines.append(
            f"{c['cases']} concurrent cases x {c['turns_per_case']} turns, {label}: "
            f"{c['turns_per_s']:.1f} turns/s, p50 {c['p50']:.1f} ms, p95 {c['p95']:.1f} ms"
        )
    lines += [
        "",
        f"taboo check of one draft: p50 {result['taboo_check']['p50']:.1f} ms, "
        f"p95 {result['taboo_check']['p95']:.1f} ms ({result['taboo_check']['checks']} drafts)",
        "",
        "rasa train from scratch: "
        + ("skipped (BENCH_SKIP_TRAIN=1)" if train["skipped"] else f"{train['seconds']:.1f} s"),
        "",
        "memory (VmRSS after the load, process trees):",
        *memory_rows(result["memory"]),
        "",
        "targets:",
        *target_rows(result["targets"]),
        "",
        "where the time of a long case goes: python -m deescalate.tools.bench.profile (run next by `make bench`)",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- entry point
