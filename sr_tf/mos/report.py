"""The report of a MOS study: MOS per method with bootstrap intervals, pairwise tests, a chart,
the raw ratings and a Markdown summary.  Excluded raters' ratings are in the CSV (flagged) and in
no statistic.  Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from sr_tf.errors import UserError
from sr_tf.fileio import write_text_atomic
from sr_tf.mos.chart import ChartRow, draw_chart, save_chart
from sr_tf.mos.stats import (
    bootstrap_means,
    holm,
    mann_whitney_u,
    percentile_interval,
    score_cube,
    wilcoxon_signed_rank,
)
from sr_tf.mos.store import Rating, Store
from sr_tf.mos.study import LOW_ANCHORS, Study

CSV_FIELDS = ("rater", "image", "method", "score", "position", "rated_at", "elapsed_ms", "excluded")
LEVEL = 0.95


@dataclass
class MethodResult:
    name: str
    kind: str
    ratings: int
    mos: float
    low: float
    high: float
    sd: float
    histogram: list[int]


@dataclass
class PairResult:
    a: str
    b: str
    difference: float
    low: float
    high: float
    pairs: int
    wilcoxon_p: float
    holm_p: float
    mann_whitney_u: float
    mann_whitney_p: float


@dataclass
class Analysis:
    methods: list[MethodResult]
    pairs: list[PairResult]
    raters: list[str]
    excluded: list[str]
    images: int
    ratings: int
    excluded_ratings: int
    n_boot: int
    seed: int
    rater_checks: list[dict] = field(default_factory=list)


def _nan_to_none(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def analyse(
    study: Study,
    ratings: list[Rating],
    raters: list[dict],
    n_boot: int = 2000,
    seed: int = 0,
    complete_only: bool = False,
) -> Analysis:
    """The statistics of ``ratings`` from the raters counted (not excluded; with
    ``complete_only``, only those who rated every item)."""
    info = {r["rater"]: r for r in raters}
    counted = [
        r["rater"]
        for r in raters
        if not r["excluded"] and (not complete_only or r["rated"] == r["total"])
    ]
    excluded = [r["rater"] for r in raters if r["excluded"]]
    counted_set = set(counted)
    used = [g for g in ratings if g.rater in counted_set and g.item in study.by_id]
    if not used:
        left_out = len(ratings) - len(used)
        raise UserError(
            f"no ratings to report in {study.folder}"
            + (f" ({left_out} from excluded or incomplete raters)" if left_out else "")
        )
    methods = study.methods
    kinds = {m["name"]: m["kind"] for m in study.manifest["methods"]}
    images = study.images
    raters_seen = {g.rater for g in used}
    raters_used = [r for r in counted if r in raters_seen]
    m_index = {m: i for i, m in enumerate(methods)}
    r_index = {r: i for i, r in enumerate(raters_used)}
    i_index = {name: i for i, name in enumerate(images)}
    items = [study.by_id[g.item] for g in used]
    m_idx = np.array([m_index[item.method] for item in items])
    r_idx = np.array([r_index[g.rater] for g in used])
    i_idx = np.array([i_index[item.image] for item in items])
    scores = np.array([g.score for g in used], np.float64)
    shape = (len(methods), len(raters_used), len(images))
    sums, counts = score_cube(m_idx, r_idx, i_idx, scores, shape)
    boot = bootstrap_means(sums, counts, n_boot, seed)
    low, high = percentile_interval(boot, LEVEL)

    results = []
    for name, m in m_index.items():
        mine = scores[m_idx == m]
        results.append(
            MethodResult(
                name=name,
                kind=kinds.get(name, "model"),
                ratings=len(mine),
                mos=float(mine.mean()) if len(mine) else math.nan,
                low=float(low[m]),
                high=float(high[m]),
                sd=float(mine.std(ddof=1)) if len(mine) > 1 else math.nan,
                histogram=[int(np.sum(mine == s)) for s in range(1, 6)],
            )
        )
    results.sort(key=lambda r: (math.isnan(r.mos), -r.mos if not math.isnan(r.mos) else 0))

    pairs = []
    for first, second in combinations(results, 2):
        a, b = m_index[first.name], m_index[second.name]
        both = (counts[a] > 0) & (counts[b] > 0)
        differences = sums[a][both] - sums[b][both]
        _, w_p = wilcoxon_signed_rank(differences)
        u, mw_p = mann_whitney_u(scores[m_idx == a], scores[m_idx == b])
        d_low, d_high = percentile_interval(boot[:, a] - boot[:, b], LEVEL)
        pairs.append(
            PairResult(
                a=first.name,
                b=second.name,
                difference=first.mos - second.mos,
                low=float(d_low),
                high=float(d_high),
                pairs=int(both.sum()),
                wilcoxon_p=w_p,
                holm_p=math.nan,
                mann_whitney_u=u,
                mann_whitney_p=mw_p,
            )
        )
    for pair, adjusted in zip(pairs, holm([p.wilcoxon_p for p in pairs])):
        pair.holm_p = float(adjusted)

    checks = []
    low_anchor = next((a for a in LOW_ANCHORS if a in m_index), None)
    for rater in raters_used + [r for r in excluded if r in info]:
        mine = [g for g in ratings if g.rater == rater and g.item in study.by_id]
        by_method: dict[str, list[int]] = {}
        for g in mine:
            by_method.setdefault(study.by_id[g.item].method, []).append(g.score)
        checks.append(
            {
                "rater": rater,
                "ratings": len(mine),
                "total": info[rater]["total"],
                "calibrated": info[rater]["calibrated"] is not None,
                "hr_mean": _mean(by_method.get("hr")),
                "low_anchor": low_anchor,
                "low_mean": _mean(by_method.get(low_anchor)) if low_anchor else math.nan,
                "excluded": rater in excluded,
                "reason": info[rater].get("reason") or "",
            }
        )
    return Analysis(
        methods=results,
        pairs=pairs,
        raters=raters_used,
        excluded=excluded,
        images=len({item.image for item in items}),
        ratings=len(used),
        excluded_ratings=len(ratings) - len(used),
        n_boot=n_boot,
        seed=seed,
        rater_checks=checks,
    )


def _mean(values) -> float:
    return float(np.mean(values)) if values else math.nan


def _num(value: float, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _p(value: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def ratings_csv(study: Study, ratings: list[Rating]) -> str:
    """Every rating, excluded raters' too, one row each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for g in ratings:
        item = study.by_id.get(g.item)
        if item is None:
            continue
        writer.writerow(
            [g.rater, item.image, item.method, g.score, g.position, g.rated_at]
            + ["" if g.elapsed_ms is None else g.elapsed_ms, int(g.excluded)]
        )
    return out.getvalue()


def mos_table(analysis: Analysis) -> str:
    """The MOS per method as a Markdown table, best first."""
    lines = [
        "| method | ratings | MOS | 95% CI | SD | 1 | 2 | 3 | 4 | 5 |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in analysis.methods:
        name = f"{m.name} (anchor)" if m.kind == "anchor" else m.name
        lines.append(
            f"| {name} | {m.ratings} | {_num(m.mos)} | {_num(m.low)} - {_num(m.high)} | "
            f"{_num(m.sd)} | " + " | ".join(str(c) for c in m.histogram) + " |"
        )
    return "\n".join(lines)


def markdown(study: Study, analysis: Analysis, title: str, chart_name: str) -> str:
    """The Markdown summary: study, MOS table, chart, pairwise tests, raters."""
    a = analysis
    manifest = study.manifest
    lines = [f"# {title}", ""]
    lines.append(
        f"Study `{study.folder.name}` (id {study.study_id}), prepared {manifest['created']}: "
        f"x{manifest['scale']}, {len(study.images)} images, {len(study.methods)} methods "
        f"({', '.join(study.methods)})"
        + (
            f", centre crops of {manifest['crop'][0]}x{manifest['crop'][1]}"
            if manifest.get("crop")
            else ""
        )
        + "."
    )
    if manifest.get("command"):
        lines += ["", f"Prepared with `{manifest['command']}`."]
    excluded = f"; excluded: {', '.join(a.excluded)}" if a.excluded else ""
    lines += [
        "",
        f"Counted: {a.ratings} ratings from {len(a.raters)} raters on {a.images} images"
        f"{excluded}; {a.excluded_ratings} ratings not counted.",
        "",
        "## Mean opinion score",
        "",
        mos_table(a),
        "",
        f"![MOS per method]({chart_name})",
        "",
        f"MOS: the mean of all counted ratings of a method (1 = bad ... 5 = excellent). 95% CI: "
        f"the 2.5th and 97.5th percentiles of the MOS over {a.n_boot} bootstrap resamples that "
        f"draw raters and images with replacement, independently (two-way resampling; seed "
        f"{a.seed}), so the interval covers both rater-to-rater and image-to-image spread.",
        "",
        "## Pairwise differences",
        "",
        "| A | B | MOS A - B | 95% CI | paired ratings | Wilcoxon p | Holm p | Mann-Whitney p |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for p in a.pairs:
        lines.append(
            f"| {p.a} | {p.b} | {_num(p.difference)} | {_num(p.low)} - {_num(p.high)} | "
            f"{p.pairs} | {_p(p.wilcoxon_p)} | {_p(p.holm_p)} | {_p(p.mann_whitney_p)} |"
        )
    lines += [
        "",
        "95% CI of the difference: the same two-way bootstrap (both methods in each resample). "
        "Wilcoxon: the Wilcoxon signed-rank test on paired scores (the same rater on the same "
        "image; zero differences dropped; normal approximation with tie and continuity "
        f"corrections); Holm: its p-value adjusted (Holm) over all {len(a.pairs)} pairs. "
        "Mann-Whitney: the Mann-Whitney U test on all ratings of the two methods, unpaired, as "
        "the SRGAN paper tested (normal approximation, tie and continuity corrected). Both tests "
        "take the ratings as independent, which repeated raters and images are not; the "
        "bootstrap interval does not.",
        "",
        "## Raters",
        "",
        f"| rater | rated | of | calibrated | mean HR score | mean {a.rater_checks[0]['low_anchor'] or 'low anchor'} score | counted |",
        "| --- | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for c in a.rater_checks:
        status = (
            f"excluded ({c['reason']})"
            if c["excluded"] and c["reason"]
            else ("excluded" if c["excluded"] else "yes")
        )
        lines.append(
            f"| {c['rater']} | {c['ratings']} | {c['total']} | {'yes' if c['calibrated'] else 'no'} "
            f"| {_num(c['hr_mean'])} | {_num(c['low_mean'])} | {status} |"
        )
    lines += [
        "",
        "A rater whose HR images score no higher than the low anchor did not follow the "
        "calibration; `sr-mos exclude STUDY RATER` leaves them out.",
        "",
        "Files: `ratings.csv` (every rating, excluded raters' flagged), `mos.json` (these "
        f"numbers), `{chart_name}`.",
        "",
    ]
    return "\n".join(lines)


def write_report(
    study: Study,
    output: str | Path | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    complete_only: bool = False,
    title: str | None = None,
) -> tuple[dict[str, Path], Analysis]:
    """Analyse the study's ratings and write mos.md, mos.png, mos.json and ratings.csv; returns
    the paths and the analysis."""
    if n_boot < 100:
        raise UserError("--boot: use at least 100 bootstrap resamples")
    store = Store.for_study(study, create=False)
    ratings = store.ratings()
    analysis = analyse(study, ratings, store.raters(), n_boot, seed, complete_only)
    output = Path(output) if output is not None else study.folder / "report"
    title = title or f"MOS report: {study.folder.name}"
    paths = {
        "markdown": output / "mos.md",
        "chart": output / "mos.png",
        "json": output / "mos.json",
        "csv": output / "ratings.csv",
    }
    write_text_atomic(paths["csv"], ratings_csv(study, ratings))
    rows = [
        ChartRow(m.name, m.mos, m.low, m.high, m.histogram, m.kind == "anchor")
        for m in analysis.methods
    ]
    note = (
        f"{analysis.ratings} ratings, {len(analysis.raters)} raters, {analysis.images} images; "
        f"95% CI: two-way bootstrap over raters and images ({analysis.n_boot} resamples)"
    )
    save_chart(draw_chart(rows, title, note), paths["chart"])
    record = {
        "study_id": study.study_id,
        "title": title,
        **{k: v for k, v in asdict(analysis).items() if k not in ("methods", "pairs")},
        "confidence_level": LEVEL,
        "bootstrap": "two-way: raters and images resampled with replacement, independently",
        "methods": [{k: _nan_to_none(v) for k, v in asdict(m).items()} for m in analysis.methods],
        "pairs": [{k: _nan_to_none(v) for k, v in asdict(p).items()} for p in analysis.pairs],
    }
    record["rater_checks"] = [
        {k: _nan_to_none(v) for k, v in c.items()} for c in analysis.rater_checks
    ]
    write_text_atomic(paths["json"], json.dumps(record, indent=2) + "\n")
    write_text_atomic(paths["markdown"], markdown(study, analysis, title, paths["chart"].name))
    return paths, analysis
