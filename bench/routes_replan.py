"""Re-planning benchmark: a ~3,000-visit day, then 5 % of the working carers call in sick.

The day is planned once (``--plan-budget`` seconds), then for each seed a random 5 % of the carers
with a route are removed and the plan is repaired with ``replan`` (budget ``--budget``). Reported:
wall time, share of the original assignments that changed, visits left unassigned, and checker
violations. As a peer in the same run, planning the disrupted day from scratch with the same
budget shows what keeping the plan buys (travel, and how much changes).

Usage::

    python bench/routes_replan.py --citizens 1400 --plan-budget 120 --budget 5 --seeds 1,2,3
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.optimise.routes.checker import check_plan
from hub.optimise.routes.model import Plan
from hub.optimise.routes.replanning import Disruption, apply_disruption, replan
from hub.optimise.routes.solver import plan_day
from hub.optimise.routes.synthetic import municipality


def changed_share(old, new) -> float:
    a, b = old.assignment(), new.assignment()
    return sum(1 for k, c in a.items() if b.get(k) != c) / max(1, len(a))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--citizens", type=int, default=1400, help="citizens (about 2.1 visits each)")
    ap.add_argument("--plan-budget", type=float, default=120.0, help="seconds for the original day plan")
    ap.add_argument("--budget", type=float, default=5.0, help="seconds for each re-plan")
    ap.add_argument("--share", type=float, default=0.05, help="share of working carers removed")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--scratch", action="store_true", help="also plan the disrupted day from scratch")
    ap.add_argument("--plan-file", default="", help="reuse the original plan from this JSON (written if absent)")
    args = ap.parse_args(argv)

    problem = municipality(args.citizens, days=1, seed=11)[0]
    print(f"day: {len(problem.visits)} visits, {len(problem.carers)} carers", file=sys.stderr)
    t0 = time.perf_counter()
    cached = Path(args.plan_file) if args.plan_file else None
    if cached is not None and cached.exists():
        plan = Plan.model_validate_json(cached.read_text())
    else:
        plan = plan_day(problem, budget_s=args.plan_budget, seed=1)
        if cached is not None:
            cached.write_text(plan.model_dump_json())
    plan_wall = time.perf_counter() - t0
    errors = check_plan(problem, plan)
    print(
        f"original plan: {plan.kpis.assigned}/{plan.kpis.visits} visits, {len(plan.routes)} routes, "
        f"travel {plan.kpis.travel_minutes:.0f} min, {plan_wall:.1f} s, {len(errors)} violations",
        file=sys.stderr,
    )
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        rng = random.Random(seed)
        working = sorted(r.carer_id for r in plan.routes)
        absent = rng.sample(working, max(1, round(args.share * len(working))))
        disruption = Disruption(absent_carers=absent)
        t0, c0 = time.perf_counter(), time.process_time()
        result = replan(problem, plan, disruption, budget_s=args.budget)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        errs = check_plan(result.problem, result.plan)
        row = {
            "method": "replan",
            "seed": seed,
            "absent": len(absent),
            "orphans": sum(1 for c in plan.assignment().values() if c in set(absent)),
            "wall_s": wall,
            "cpu_s": cpu,
            "changed": changed_share(plan, result.plan),
            "unassigned": result.plan.kpis.unassigned,
            "travel": result.plan.kpis.travel_minutes,
            "violations": len(errs),
        }
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
        if args.scratch:
            disrupted = apply_disruption(problem, disruption)
            t0, c0 = time.perf_counter(), time.process_time()
            fresh = plan_day(disrupted, budget_s=args.budget, seed=seed)
            row = {
                "cpu_s": time.process_time() - c0,
                "method": "from scratch",
                "seed": seed,
                "absent": len(absent),
                "orphans": row["orphans"],
                "wall_s": time.perf_counter() - t0,
                "changed": changed_share(plan, fresh),
                "unassigned": fresh.kpis.unassigned,
                "travel": fresh.kpis.travel_minutes,
                "violations": len(check_plan(disrupted, fresh)),
            }
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    print(
        f"\nRe-plan: {len(problem.visits)} visits, {len(problem.carers)} carers on shift, {len(plan.routes)} routes; "
        f"original plan {args.plan_budget:g} s ({plan.kpis.unassigned} unassigned, "
        f"travel {plan.kpis.travel_minutes:.0f} min); {args.share:.0%} of working carers removed; "
        f"re-plan budget {args.budget:g} s\n"
    )
    print(
        "| method | seed | carers removed | parts orphaned | wall s | CPU s | assignments changed | unassigned "
        "| travel min | violations |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['method']} | {r['seed']} | {r['absent']} | {r['orphans']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} "
            f"| {r['changed']:.1%} "
            f"| {r['unassigned']} | {r['travel']:.0f} | {r['violations']} |"
        )
    rp = [r for r in rows if r["method"] == "replan"]
    print(
        f"\nre-plan mean: {statistics.mean(r['wall_s'] for r in rp):.2f} s, "
        f"{statistics.mean(r['changed'] for r in rp):.1%} changed, max {max(r['wall_s'] for r in rp):.2f} s"
    )


if __name__ == "__main__":
    main()
