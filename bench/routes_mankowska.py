"""Mankowska et al. (2014) home-care benchmark: skills, double services, synchronisation.

Each instance is converted to our model (soft windows, so the OR-Tools engine), planned, and then
judged by a validator written here from the instance file alone: every service done once by a
caregiver with the ability, windows opened, routes timed with travel, synchronisation met, and the
objective (distance + total tardiness + max tardiness) / 3 compared with ``mankowska_best.md``.

Usage::

    python bench/routes_mankowska.py --budget 60 --sizes 10,25 --jobs 1
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.optimise.routes.checker import check_plan
from hub.optimise.routes.model import Carer, DoubleVisit, Location, Plan, Problem, Visit, Weights
from hub.optimise.routes.solver import plan_day
from models.registry import data_dir

TOL = 1e-3 + 1.0 / 60


def folder() -> Path:
    return data_dir() / "routing" / "mankowska"


def best_known() -> dict[str, float]:
    out = {}
    for line in (folder() / "mankowska_best.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("Instanz"):
            out[cells[0].removesuffix(".json")] = float(cells[4])
    return out


def to_problem(inst: dict, name: str) -> Problem:
    """Patients become visits (double visits for two services), caregivers carers, soft windows."""
    visits = []
    for k, p in enumerate(inst["patients"]):
        req = p["required_caregivers"]
        double = None
        if len(req) > 1:
            sync = p.get("synchronization", {"type": "simultaneous"})
            lo, hi = sync.get("distance", [0, 0]) if sync["type"] == "sequential" else (0, 0)
            double = DoubleVisit(
                mode=sync["type"],
                min_gap=float(lo),
                max_gap=float(hi),
                second_skill=req[1]["service"],
                second_duration=float(req[1]["duration"]),
            )
        visits.append(
            Visit(
                id=p["id"],
                location=Location(matrix_index=k + 1),
                window_start=float(p["time_window"][0]),
                window_end=float(p["time_window"][1]),
                duration=float(req[0]["duration"]),
                skill=req[0]["service"],
                mandatory=True,
                double=double,
            )
        )
    carers = [
        Carer(
            id=c["id"],
            shift_start=0.0,
            shift_end=100000.0,
            start_location=Location(matrix_index=0),
            skills=c["abilities"],
        )
        for c in inst["caregivers"]
    ]
    return Problem(
        day=name,
        visits=visits,
        carers=carers,
        travel_minutes=inst["distances"],
        distance_km=inst["distances"],
        weights=Weights(travel=1.0, lateness=1.0, max_lateness=1.0, continuity=0.0, unassigned=1e6),
    )


def validate(inst: dict, plan: Plan) -> tuple[list[str], float, float, float]:
    """Mankowska's own rules, from the instance file: errors, distance, total and max tardiness."""
    dist = inst["distances"]
    pidx = {p["id"]: k + 1 for k, p in enumerate(inst["patients"])}
    patients = {p["id"]: p for p in inst["patients"]}
    abilities = {c["id"]: set(c["abilities"]) for c in inst["caregivers"]}
    errors: list[str] = []
    starts: dict[tuple[str, int], float] = {}
    who: dict[tuple[str, int], str] = {}
    total_dist = 0.0
    for route in plan.routes:
        here, t = 0, 0.0
        for s in route.stops:
            if s.kind != "visit":
                continue
            p = patients[s.visit_id]
            req = p["required_caregivers"][s.part]
            if req["service"] not in abilities[route.carer_id]:
                errors.append(f"{route.carer_id} cannot do {req['service']} at {p['id']}")
            total_dist += dist[here][pidx[p["id"]]]
            arrive = t + dist[here][pidx[p["id"]]]
            if s.start < arrive - TOL or s.start < p["time_window"][0] - TOL:
                errors.append(f"{p['id']} part {s.part} starts too early ({s.start:.2f})")
            starts[(p["id"], s.part)] = s.start
            who[(p["id"], s.part)] = route.carer_id
            t = s.start + req["duration"]
            here = pidx[p["id"]]
        total_dist += dist[here][0]
    tard = []
    for p in inst["patients"]:
        for part in range(len(p["required_caregivers"])):
            if (p["id"], part) not in starts:
                errors.append(f"{p['id']} part {part} not served")
                continue
            tard.append(max(0.0, starts[(p["id"], part)] - p["time_window"][1]))
        if len(p["required_caregivers"]) == 2 and (p["id"], 1) in starts and (p["id"], 0) in starts:
            gap = starts[(p["id"], 1)] - starts[(p["id"], 0)]
            sync = p["synchronization"]
            lo, hi = sync["distance"] if sync["type"] == "sequential" else (0, 0)
            if not lo - TOL <= gap <= hi + TOL:
                errors.append(f"{p['id']} synchronisation broken: gap {gap:.2f} not in [{lo}, {hi}]")
            if who[(p["id"], 0)] == who[(p["id"], 1)]:
                errors.append(f"{p['id']} both services by one caregiver")
    return errors, total_dist, sum(tard), max(tard, default=0.0)


def run_one(args: tuple[str, float, int, str]) -> dict:
    name, budget, seed, engine = args
    inst = json.loads((folder() / f"{name}.json").read_text())
    problem = to_problem(inst, name)
    t0 = time.perf_counter()
    plan = plan_day(problem, budget_s=budget, seed=seed, engine=engine)
    wall = time.perf_counter() - t0
    errors, dist, tot, mx = validate(inst, plan)
    checker = check_plan(problem, plan)
    n_sync = sum(1 for p in inst["patients"] if len(p["required_caregivers"]) > 1)
    cost = (dist + tot + mx) / 3
    best = best_known()[name]
    return {
        "instance": name,
        "size": len(inst["patients"]),
        "budget": budget,
        "seed": seed,
        "engine": plan.engine,
        "distance": round(dist, 3),
        "total_tardiness": round(tot, 3),
        "max_tardiness": round(mx, 3),
        "cost": round(cost, 3),
        "best": best,
        "gap": 100 * (cost - best) / best if not errors else float("inf"),
        "valid": not errors,
        "checker_ok": not checker,
        "sync_pairs": n_sync,
        "sync_broken": sum("synchronisation" in e or "both services" in e for e in errors),
        "errors": (errors + checker)[:3],
        "wall_s": round(wall, 2),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per instance (default 60)")
    ap.add_argument("--sizes", default="10,25,50,75,100,200,300", help="patient counts to run")
    ap.add_argument("--instances", default="", help="comma-separated numbers within each size, e.g. 1,2")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engine", default="auto", help="planner engine: auto (default), lns, ortools")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    names = sorted(p.stem for p in folder().glob("Instanz*_HCSRP_*.json"))
    sizes = {int(s) for s in args.sizes.split(",")}
    names = [n for n in names if int(re.findall(r"_(\d+)_\d+$", n)[0]) in sizes]
    if args.instances:
        keep = set(args.instances.split(","))
        names = [n for n in names if n.rsplit("_", 1)[1] in keep]
    rows = []
    out = open(args.out, "a") if args.out else None  # noqa: SIM115
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for row in pool.imap_unordered(run_one, [(n, args.budget, args.seed, args.engine) for n in names]):
            rows.append(row)
            print(
                f"{row['instance']:>26} gap {row['gap']:8.2f}% valid {row['valid']} checker {row['checker_ok']} "
                f"{row['wall_s']}s {row['errors'][:1]}",
                file=sys.stderr,
                flush=True,
            )
            if out:
                out.write(json.dumps(row) + "\n")
                out.flush()
    print(f"\nMankowska: {len(rows)} instances, budget {args.budget} s, seed {args.seed}, jobs {args.jobs}\n")
    print("| patients | instances | valid | sync met | mean gap % | worst gap % | mean wall s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in sorted({r["size"] for r in rows}):
        rs = [r for r in rows if r["size"] == size]
        pairs = sum(r["sync_pairs"] for r in rs)
        broken = sum(r["sync_broken"] for r in rs)
        print(
            f"| {size} | {len(rs)} | {sum(r['valid'] and r['checker_ok'] for r in rs)}/{len(rs)} | "
            f"{pairs - broken}/{pairs} | {statistics.mean(r['gap'] for r in rs):.2f} | "
            f"{max(r['gap'] for r in rs):.2f} | {statistics.mean(r['wall_s'] for r in rs):.1f} |"
        )


if __name__ == "__main__":
    main()
