"""Markdown results table of the performance suite, with ratios against the authors' figures.

Absolute times move with the machine and its load, so every comparison with the reference
figures first rescales the measured time to the reference machine by the dense matmul rate
measured in the same run: ``normalised = seconds * matmul_rate / REFERENCE_MATMUL_RATE``.
"""

from __future__ import annotations

GIB = 1024**3
GB = 1e9
REFERENCE_MATMUL_RATE = 111e9  # FLOP/s, the authors' machine, fp32 2 threads
REFERENCE_FRAMES = 140
# The authors' implementation (unfold tokenizer, fused_linear trainable), T = 140, 227 neurons.
REFERENCE = {
    ("eval", 1): {"seconds": 8.0, "peak_gb": 2.9},
    ("train", 1): {"seconds": 34.8, "peak_gb": 6.6},
    ("train", 2): {"seconds": 79.0, "peak_gb": 10.8},
}
# Targets for the LoRA-8 training step at batch 1 against the reference (time, peak) ratios.
TARGETS = {False: (0.7, 0.5), True: (1.2, 0.25)}


def normalised_seconds(seconds: float, matmul_rate: float) -> float:
    """Seconds rescaled to the reference machine by the ratio of measured matmul rates."""
    return seconds * matmul_rate / REFERENCE_MATMUL_RATE


def utilisation(result: dict, matmul_rate: float) -> float:
    """Model FLOPs per second of the step as a fraction of the dense matmul rate."""
    return result["flops"] / result["seconds"] / matmul_rate


def reference_for(result: dict, frames: int) -> dict | None:
    """The authors' figure for this step and batch (CPU, 140 frames only), or None."""
    if frames != REFERENCE_FRAMES or result["device"] != "cpu":
        return None
    return REFERENCE.get((result["kind"], result["batch"]))


def case_rate(result: dict, run_rate: float) -> float:
    """The matmul rate the case measured in its own process, else the run's."""
    return result.get("matmul_rate", run_rate)


def authors_result(result: dict, results: list[dict]) -> dict | None:
    """The same run's authors'-path case of the same step, batch and device, if measured."""
    return next(
        (
            other
            for other in results
            if other.get("authors")
            and (other["kind"], other["batch"], other["device"])
            == (result["kind"], result["batch"], result["device"])
        ),
        None,
    )


def authors_ratios(
    result: dict, results: list[dict], run_rate: float
) -> tuple[float, float] | None:
    """(time, peak) of ``result`` over the same run's authors' path, raw seconds.

    Raw, not matmul-normalised: both ran minutes apart on the same machine, and a few seconds of
    matmul timing on a loaded machine adds more noise than it removes.
    """
    authors = authors_result(result, results)
    if authors is None:
        return None
    return (
        result["seconds"] / authors["seconds"],
        result["peak_rss_bytes"] / authors["peak_rss_bytes"],
    )


def case_row(result: dict, run_rate: float, frames: int, results: list[dict] = ()) -> str:
    """One table row: case, seconds, normalised seconds, GFLOP, utilisation, peak memory."""
    reference = reference_for(result, frames)
    matmul_rate = case_rate(result, run_rate)
    normalised = normalised_seconds(result["seconds"], matmul_rate)
    peak_gb = result["peak_rss_bytes"] / GB
    time_ratio = f"{normalised / reference['seconds']:.2f}" if reference else "–"
    peak_ratio = f"{peak_gb / reference['peak_gb']:.2f}" if reference else "–"
    ckpt = "–" if result["kind"] == "eval" else str(result["grad_checkpointing"]).lower()
    finetune = "–" if result["kind"] == "eval" else result["finetune"]
    tokenizer = (
        f"{result['tokenizer']} (authors' path)" if result.get("authors") else result["tokenizer"]
    )
    same_run = authors_ratios(result, results, run_rate)
    same_run_text = f"{same_run[0]:.2f} / {same_run[1]:.2f}" if same_run else "–"
    return (
        f"| {result['kind']} | {result['batch']} | {tokenizer} | {finetune} | {ckpt} "
        f"| {matmul_rate / 1e9:.0f} | {result['seconds']:.2f} | {normalised:.2f} | {time_ratio} "
        f"| {result['flops'] / 1e9:.0f} | {utilisation(result, matmul_rate):.2f} "
        f"| {peak_gb:.2f} | {peak_ratio} | {same_run_text} |"
    )


def target_lines(results: list[dict], run_rate: float, frames: int) -> list[str]:
    """Verdicts for the CPU targets on the LoRA-8, batch 1, conv-tokenizer training step."""
    lines = []
    reference = REFERENCE["train", 1]
    for result in results:
        if reference_for(result, frames) is None:
            continue
        if result.get("authors") or (
            result["kind"],
            result["batch"],
            result["finetune"],
            result["tokenizer"],
        ) != (
            "train",
            1,
            "lora",
            "conv",
        ):
            continue
        mode = result["grad_checkpointing"]
        matmul_rate = case_rate(result, run_rate)
        time_target, peak_target = TARGETS[mode is True]
        time_ratio = normalised_seconds(result["seconds"], matmul_rate) / reference["seconds"]
        peak_ratio = result["peak_rss_bytes"] / GB / reference["peak_gb"]
        same_run = authors_ratios(result, results, run_rate)
        basis = "the authors' figures, matmul-normalised"
        if same_run:  # the authors' path measured in this run is the fairer yardstick
            time_ratio, peak_ratio = same_run
            basis = "the authors' path in this run"
        rate = utilisation(result, matmul_rate)
        verdict = [
            f"time {time_ratio:.2f}x (target <= {time_target}: "
            f"{'met' if time_ratio <= time_target else 'MISSED'})",
            f"peak {peak_ratio:.2f}x (target <= {peak_target}: "
            f"{'met' if peak_ratio <= peak_target else 'MISSED'})",
            f"matmul-rate fraction {rate:.2f} (target >= 0.5: "
            f"{'met' if rate >= 0.5 else 'MISSED'})",
        ]
        lines.append(
            f"- LoRA-8 train step, batch 1, grad_checkpointing={mode}, against {basis}: "
            + "; ".join(verdict)
        )
    return lines


def format_report(results: list[dict], meta: dict, extras: list[str] = ()) -> str:
    """The whole Markdown document: header with machine facts, the table, target verdicts."""
    rate = meta["matmul_rate"]
    lines = [
        "# ViV1T performance: training step and eval forward",
        "",
        f"- date: {meta['date']}; machine: {meta['cpu']} ({meta['cores']} cores), "
        f"{meta['threads']} threads; python {meta['python']}, torch {meta['torch']}",
        f"- load average before / after: {meta['load_before']} / {meta['load_after']}",
        f"- dense matmul ({meta['matmul_size']}^2, median): {rate / 1e9:.1f} GFLOP/s at the start "
        "of the run; each case measures it again in its own process just before its steps "
        "(column mm) and is normalised by that; "
        f"(reference machine {REFERENCE_MATMUL_RATE / 1e9:.0f}); clip of {meta['frames']} frames, "
        f"{meta['neurons']} neurons, median of {meta['repeats']} timed step(s) after a warm-up, "
        "each case in a fresh process",
        "- normalised s = s x mm / 111 GFLOP/s (time on the reference machine); "
        "x ref = normalised s (or peak) / the authors' figure at the same batch "
        "(eval 8.0 s / 2.9 GB; train b1 34.8 s / 6.6 GB, b2 79 s / 10.8 GB)",
        "- x authors' path: the same run's authors'-path case (unfold tokenizer, no recomputation, "
        "no chunking, one fused projection then split, torch's dropout, glibc malloc defaults; "
        "fused_linear weights trainable) at the same step and batch, raw seconds; the CPU targets "
        "are judged against it when it was measured",
        "- GFLOP: model FLOPs of the step from the shapes (`brainenc.models.flops`), recomputation "
        "not counted; util = GFLOP/s achieved / matmul GFLOP/s; peak = peak RSS of the process",
        "",
        "| step | batch | tokenizer | finetune | grad ckpt | mm GFLOP/s | s | normalised s | x ref "
        "| GFLOP | util | peak GB | x ref | x authors' path (time / peak) |",
        "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [case_row(result, rate, meta["frames"], results) for result in results]
    verdicts = target_lines(results, rate, meta["frames"])
    if verdicts:
        lines += ["", "## CPU targets", "", *verdicts]
    lines += ["", *extras]
    return "\n".join(lines).rstrip() + "\n"
