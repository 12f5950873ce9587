"""Continuity-of-care benchmark: 14 days of a synthetic municipality, travel-only vs continuity.

Travel-only plans each day on its own (no preferred carers). Continuity plans the days in order
and makes each citizen prefer the carers they met most so far (``plan_days``), at several
continuity weights: the trade-off curve between travel and distinct carers per citizen.
Same budget and seeds for every method; every day plan is checked by the independent checker.

Usage::

    python bench/routes_continuity.py --citizens 150 --days 14 --budget 5 --weights 0,5,15,30,60
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.optimise.routes.checker import check_plan
from hub.optimise.routes.continuity import continuity_figures
from hub.optimise.routes.model import Weights
from hub.optimise.routes.solver import plan_days
from hub.optimise.routes.synthetic import municipality


def run(problems, weight: float | None, budget: float, seed: int, keep: int) -> dict:
    if weight is None:
        days = [p.model_copy(update={"weights": Weights(continuity=0.0)}) for p in problems]
    else:
        days = [p.model_copy(update={"weights": Weights(continuity=weight)}) for p in problems]
    t0 = time.perf_counter()
    plans = plan_days(days, budget_s=budget, seed=seed, continuity=weight is not None, keep=keep)
    wall = time.perf_counter() - t0
    violations = sum(len(check_plan(p, pl)) for p, pl in zip(days, plans, strict=True))
    distinct, top = continuity_figures(plans)
    return {
        "method": "travel only" if weight is None else f"continuity w={weight:g}",
        "travel": sum(p.kpis.travel_minutes for p in plans),
        "unassigned": sum(p.kpis.unassigned for p in plans),
        "distinct": distinct,
        "top": top,
        "violations": violations,
        "wall": wall,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--citizens", type=int, default=150)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--budget", type=float, default=5.0, help="seconds per day")
    ap.add_argument("--weights", default="5,15,30,60", help="continuity weights (cost per non-preferred visit)")
    ap.add_argument("--keep", type=int, default=2, help="preferred carers carried per citizen")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    problems = municipality(args.citizens, days=args.days, seed=3)
    visits = sum(len(p.visits) for p in problems)
    print(f"{args.days} days, {visits} visits, ~{len(problems[0].carers)} carers a day", file=sys.stderr)
    rows = [run(problems, None, args.budget, args.seed, args.keep)]
    print(rows[-1], file=sys.stderr, flush=True)
    for w in [float(x) for x in args.weights.split(",") if x]:
        rows.append(run(problems, w, args.budget, args.seed, args.keep))
        print(rows[-1], file=sys.stderr, flush=True)
    base = rows[0]
    print(
        f"\nContinuity: {args.citizens} citizens, {args.days} days, {visits} visits, budget {args.budget:g} s/day, "
        f"seed {args.seed}, keep {args.keep}\n"
    )
    print(
        "| method | travel min | travel vs travel-only | unassigned | distinct carers/citizen | vs travel-only "
        "| top-carer share | violations |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['method']} | {r['travel']:.0f} | {100 * (r['travel'] / base['travel'] - 1):+.1f}% "
            f"| {r['unassigned']} "
            f"| {r['distinct']:.2f} | {100 * (r['distinct'] / base['distinct'] - 1):+.1f}% | {r['top']:.1%} "
            f"| {r['violations']} |"
        )


if __name__ == "__main__":
    main()
