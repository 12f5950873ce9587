"""``hub-routes``: plan, re-plan and check home-care routes from the command line.

Examples::

    hub-routes example --citizens 120 --days 3 --out examples/      # synthetic municipality
    hub-routes plan examples/day-01.json --budget 10 --json plan.json --csv plan.csv --sheet sheet.html
    hub-routes plan --visits visits.csv --carers carers.csv --json plan.json
    hub-routes plan-days examples/day-0*.json --budget 5 --out plans/
    hub-routes replan examples/day-01.json plan.json --absent d003,d007 --json new.json
    hub-routes check examples/day-01.json plan.json

Progress goes to stderr; files are written where asked, the plan's KPIs to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from hub.optimise.routes.checker import check_plan
from hub.optimise.routes.continuity import continuity_figures
from hub.optimise.routes.io import day_sheets_html, load_problem, plan_csv, plan_json, read_visits_csv
from hub.optimise.routes.model import Plan, Problem
from hub.optimise.routes.replanning import Disruption, replan
from hub.optimise.routes.solver import plan_day, plan_days


def _progress(frac: float, message: str) -> None:
    print(f"[{frac * 100:5.1f}%] {message}", file=sys.stderr, flush=True)


def _write_outputs(args: argparse.Namespace, plan: Plan, problem: Problem) -> None:
    if args.json:
        Path(args.json).write_text(plan_json(plan))
    if args.csv:
        Path(args.csv).write_text(plan_csv(plan))
    if args.sheet:
        Path(args.sheet).write_text(day_sheets_html(plan, problem))
    print(json.dumps(plan.kpis.model_dump(), indent=2))


def _outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", help="write the plan as JSON here")
    p.add_argument("--csv", help="write one row per stop here")
    p.add_argument("--sheet", help="write printable per-carer day sheets (HTML) here")


def _search(p: argparse.ArgumentParser, budget: float) -> None:
    p.add_argument("--budget", type=float, default=budget, help=f"seconds of search (default {budget:g})")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--engine", choices=["auto", "pyvrp", "ortools", "lns", "portfolio"], default="auto")


def cmd_plan(args: argparse.Namespace) -> int:
    problem = load_problem(args.problem, args.visits, args.carers)
    plan = plan_day(problem, budget_s=args.budget, seed=args.seed, progress=_progress, engine=args.engine)
    errors = check_plan(problem, plan)
    for e in errors:
        print(f"violation: {e}", file=sys.stderr)
    _write_outputs(args, plan, problem)
    return 1 if errors else 0


def cmd_plan_days(args: argparse.Namespace) -> int:
    problems = [load_problem(p) for p in args.problems]
    plans = plan_days(
        problems, budget_s=args.budget, seed=args.seed, progress=_progress, continuity=not args.travel_only
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for problem, plan in zip(problems, plans, strict=True):
        bad += len(check_plan(problem, plan))
        name = plan.day or f"day-{len(list(out.glob('*.json'))) + 1}"
        (out / f"{name}.json").write_text(plan_json(plan))
        (out / f"{name}.html").write_text(day_sheets_html(plan, problem))
    distinct, top = continuity_figures(plans)
    travel = sum(p.kpis.travel_minutes for p in plans)
    print(
        json.dumps(
            {
                "days": len(plans),
                "travel_minutes": round(travel, 1),
                "distinct_carers_per_citizen": distinct,
                "top_carer_share": top,
                "violations": bad,
            },
            indent=2,
        )
    )
    return 1 if bad else 0


def cmd_replan(args: argparse.Namespace) -> int:
    problem = load_problem(args.problem)
    plan = Plan.model_validate_json(Path(args.plan).read_text())
    disruption = Disruption(
        absent_carers=[s for s in (args.absent or "").split(",") if s],
        cancelled_visits=[s for s in (args.cancel or "").split(",") if s],
        added_visits=read_visits_csv(Path(args.add).read_text()) if args.add else [],
    )
    result = replan(problem, plan, disruption, budget_s=args.budget, progress=_progress)
    errors = check_plan(result.problem, result.plan)
    for e in errors:
        print(f"violation: {e}", file=sys.stderr)
    for m in result.moved:
        print(f"moved {m.visit_id}#{m.part}: {m.from_carer or '-'} -> {m.to_carer or 'unassigned'}", file=sys.stderr)
    print(f"{len(result.moved)} parts moved ({result.changed_share:.1%} of assignments)", file=sys.stderr)
    _write_outputs(args, result.plan, result.problem)
    return 1 if errors else 0


def cmd_check(args: argparse.Namespace) -> int:
    problem = load_problem(args.problem)
    plan = Plan.model_validate_json(Path(args.plan).read_text())
    errors = check_plan(problem, plan)
    for e in errors:
        print(e)
    print(f"{len(errors)} violations", file=sys.stderr)
    return 1 if errors else 0


def cmd_example(args: argparse.Namespace) -> int:
    from hub.optimise.routes.synthetic import municipality

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for problem in municipality(args.citizens, days=args.days, seed=args.seed):
        (out / f"{problem.day}.json").write_text(problem.model_dump_json(indent=1, exclude_defaults=True))
        print(f"{out / problem.day}.json: {len(problem.visits)} visits, {len(problem.carers)} carers", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub-routes", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log solver details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plan", help="plan one day")
    p.add_argument("problem", nargs="?", help="problem JSON (or use --visits and --carers)")
    p.add_argument("--visits", help="visits CSV")
    p.add_argument("--carers", help="carers CSV")
    _search(p, 10.0)
    _outputs(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("plan-days", help="plan consecutive days with continuity of care")
    p.add_argument("problems", nargs="+", help="one problem JSON per day, in order")
    p.add_argument("--out", required=True, help="folder for one plan JSON and day sheet per day")
    p.add_argument("--travel-only", action="store_true", help="ignore continuity (for comparison)")
    _search(p, 10.0)
    p.set_defaults(func=cmd_plan_days)

    p = sub.add_parser("replan", help="repair a plan after a disruption")
    p.add_argument("problem", help="problem JSON the plan was made for")
    p.add_argument("plan", help="plan JSON")
    p.add_argument("--absent", help="comma-separated carer ids who are away")
    p.add_argument("--cancel", help="comma-separated visit ids cancelled")
    p.add_argument("--add", help="CSV of visits to add")
    p.add_argument("--budget", type=float, default=5.0, help="seconds (default 5)")
    _outputs(p)
    p.set_defaults(func=cmd_replan)

    p = sub.add_parser("check", help="check a plan with the independent checker")
    p.add_argument("problem")
    p.add_argument("plan")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("example", help="write a synthetic municipality, one problem JSON per day")
    p.add_argument("--citizens", type=int, default=120)
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_example)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"hub-routes: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
