"""VRPTW benchmark (Solomon 100 and Gehring-Homberger 200): our planner vs PyVRP, OR-Tools, VROOM.

Every solver gets the same instance (DIMACS rounding: distances truncated to one decimal), the
same wall-clock budget per run, one thread, and the same seeds. The gap is against the
best-known solution in the ``.sol`` file next to each instance.

Usage::

    python bench/routes_vrptw.py --set solomon --budget 5 --solvers ours,pyvrp --jobs 1
    python bench/routes_vrptw.py --set gh200 --budget 60 --instances C1_2_1,R1_2_1
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from hub.optimise.routes.checker import check_plan
from hub.optimise.routes.model import Carer, Location, Problem, Visit, Weights
from hub.optimise.routes.solver import plan_day
from models.registry import data_dir

SOLVERS = ("ours", "pyvrp", "ortools", "vroom")


def load(path: Path) -> dict:
    """Instance arrays with DIMACS distances (one decimal, truncated), times as in the file."""
    import vrplib

    inst = vrplib.read_instance(str(path))
    xy = np.asarray(inst["node_coord"], dtype=float)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    dist10 = np.floor(d * 10 + 1e-9).astype(np.int64)
    service = np.broadcast_to(np.asarray(inst["service_time"], dtype=float), (len(xy),)).copy()
    service[0] = 0.0
    return {
        "name": path.stem,
        "dist10": dist10,
        "demand": np.asarray(inst["demand"], dtype=int),
        "tw": np.asarray(inst["time_window"], dtype=float),
        "service": service,
        "capacity": int(inst["capacity"]),
        "vehicles": int(inst["vehicles"]),
    }


def best_known(path: Path) -> float:
    text = path.with_suffix(".sol").read_text()
    return float(re.search(r"Cost\s+([\d.]+)", text).group(1))


def to_problem(inst: dict) -> Problem:
    """The instance as a home-care problem: carers = vehicles, visits mandatory, minutes = units."""
    minutes = (inst["dist10"] / 10.0).tolist()
    tw = inst["tw"]
    visits = [
        Visit(
            id=str(i),
            location=Location(matrix_index=i),
            window_start=float(tw[i, 0]),
            window_end=float(tw[i, 1]),
            duration=float(inst["service"][i]),
            demand=int(inst["demand"][i]),
            mandatory=True,
        )
        for i in range(1, len(tw))
    ]
    carers = [
        Carer(
            id=f"v{k}",
            shift_start=float(tw[0, 0]),
            shift_end=float(tw[0, 1]),
            start_location=Location(matrix_index=0),
            capacity=inst["capacity"],
        )
        for k in range(inst["vehicles"])
    ]
    return Problem(
        day=inst["name"],
        visits=visits,
        carers=carers,
        travel_minutes=minutes,
        weights=Weights(continuity=0.0),
    )


def run_ours(inst: dict, budget: float, seed: int) -> tuple[float, bool, str]:
    problem = to_problem(inst)
    plan = plan_day(problem, budget_s=budget, seed=seed)
    errors = check_plan(problem, plan)
    feasible = not errors and not plan.unassigned
    cost = sum(r.travel_minutes for r in plan.routes)
    return round(cost, 1), feasible, "; ".join(errors[:2])


def run_pyvrp(path: Path, budget: float, seed: int) -> tuple[float, bool, str]:
    import pyvrp
    from pyvrp.stop import MaxRuntime

    data = pyvrp.read(str(path), round_func="dimacs")
    res = pyvrp.solve(data, stop=MaxRuntime(budget), seed=seed, collect_stats=False)
    return res.best.distance() / 10.0, res.best.is_feasible(), ""


def run_ortools(inst: dict, budget: float, seed: int) -> tuple[float, bool, str]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    dist = inst["dist10"]
    n = len(dist)
    svc = np.round(inst["service"] * 10).astype(int)
    tw = np.round(inst["tw"] * 10).astype(int)
    manager = pywrapcp.RoutingIndexManager(n, inst["vehicles"], 0)
    routing = pywrapcp.RoutingModel(manager)
    dist_l = dist.tolist()
    arc = routing.RegisterTransitCallback(lambda i, j: dist_l[manager.IndexToNode(i)][manager.IndexToNode(j)])
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    svc_l = svc.tolist()
    time_cb = routing.RegisterTransitCallback(
        lambda i, j: dist_l[manager.IndexToNode(i)][manager.IndexToNode(j)] + svc_l[manager.IndexToNode(i)]
    )
    horizon = int(tw[0, 1])
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    tdim = routing.GetDimensionOrDie("time")
    for node in range(1, n):
        tdim.CumulVar(manager.NodeToIndex(node)).SetRange(int(tw[node, 0]), int(tw[node, 1]))
    for v in range(inst["vehicles"]):
        tdim.CumulVar(routing.Start(v)).SetRange(int(tw[0, 0]), int(tw[0, 1]))
        tdim.CumulVar(routing.End(v)).SetRange(int(tw[0, 0]), int(tw[0, 1]))
    dem = inst["demand"].tolist()
    dem_cb = routing.RegisterUnaryTransitCallback(lambda i: dem[manager.IndexToNode(i)])
    routing.AddDimensionWithVehicleCapacity(dem_cb, 0, [inst["capacity"]] * inst["vehicles"], True, "load")
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(budget * 1000))
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return math.nan, False, "no solution"
    return sol.ObjectiveValue() / 10.0, True, ""


def run_vroom(inst: dict, budget: float, seed: int) -> tuple[float, bool, str]:
    import vroom

    dist = inst["dist10"]
    svc = np.round(inst["service"] * 10).astype(int)
    tw = np.round(inst["tw"] * 10).astype(int)
    problem = vroom.Input()
    problem.set_durations_matrix("car", dist.tolist())
    for v in range(inst["vehicles"]):
        problem.add_vehicle(
            vroom.Vehicle(
                v + 1,
                start=0,
                end=0,
                capacity=[inst["capacity"]],
                time_window=vroom.TimeWindow(int(tw[0, 0]), int(tw[0, 1])),
            )
        )
    for i in range(1, len(dist)):
        problem.add_job(
            vroom.Job(
                i,
                location=i,
                default_service=int(svc[i]),
                delivery=[int(inst["demand"][i])],
                time_windows=[vroom.TimeWindow(int(tw[i, 0]), int(tw[i, 1]))],
            )
        )
    sol = problem.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=budget))
    routes = sol.routes
    total = 0
    unassigned = 0
    for _, group in routes.groupby("vehicle_id"):
        locs = [int(x) for x in group["location_index"].tolist()]
        total += sum(int(dist[a, b]) for a, b in itertools.pairwise(locs))
    assigned = int((routes["type"] == "job").sum())
    unassigned = len(dist) - 1 - assigned
    return total / 10.0, unassigned == 0, f"{unassigned} unassigned" if unassigned else ""


def run_one(args: tuple[str, str, float, int]) -> dict:
    path_s, solver, budget, seed = args
    path = Path(path_s)
    inst = load(path)
    t0 = time.perf_counter()
    if solver == "ours":
        cost, feasible, note = run_ours(inst, budget, seed)
    elif solver == "pyvrp":
        cost, feasible, note = run_pyvrp(path, budget, seed)
    elif solver == "ortools":
        cost, feasible, note = run_ortools(inst, budget, seed)
    else:
        cost, feasible, note = run_vroom(inst, budget, seed)
    bks = best_known(path)
    return {
        "instance": path.stem,
        "solver": solver,
        "budget": budget,
        "seed": seed,
        "cost": cost,
        "bks": bks,
        "gap": 100.0 * (cost - bks) / bks,
        "feasible": feasible,
        "wall_s": round(time.perf_counter() - t0, 2),
        "note": note,
    }


def table(rows: list[dict], solvers: list[str]) -> str:
    lines = [
        "| solver | runs | feasible | mean gap % | worst gap % | worst instance | mean wall s |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for s in solvers:
        rs = [r for r in rows if r["solver"] == s]
        if not rs:
            continue
        gaps = [r["gap"] for r in rs if r["feasible"]]
        worst = max((r for r in rs if r["feasible"]), key=lambda r: r["gap"], default=None)
        lines.append(
            f"| {s} | {len(rs)} | {sum(r['feasible'] for r in rs)}/{len(rs)} | "
            f"{statistics.mean(gaps) if gaps else math.nan:.3f} | {worst['gap'] if worst else math.nan:.3f} | "
            f"{worst['instance'] if worst else '-'} | {statistics.mean(r['wall_s'] for r in rs):.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["solomon", "gh200"], default="solomon")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds per run (default 30)")
    ap.add_argument("--instances", default="", help="comma-separated names, or empty for all")
    ap.add_argument("--solvers", default=",".join(SOLVERS))
    ap.add_argument("--seeds", default="1", help="comma-separated seeds")
    ap.add_argument("--jobs", type=int, default=1, help="parallel runs (each single-threaded)")
    ap.add_argument("--out", default="", help="append one JSON line per run to this file")
    args = ap.parse_args(argv)
    folder = data_dir() / "routing" / args.set
    paths = sorted(folder.glob("*.vrp"))
    if args.instances:
        by_name = {p.stem: p for p in paths}
        paths = [by_name[n] for n in args.instances.split(",") if n in by_name]  # in the order given
    solvers = args.solvers.split(",")
    work = [(str(p), s, args.budget, int(seed)) for p in paths for seed in args.seeds.split(",") for s in solvers]
    rows = []
    out = open(args.out, "a") if args.out else None  # noqa: SIM115
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for row in pool.imap_unordered(run_one, work):
            rows.append(row)
            print(
                f"{row['instance']:>10} {row['solver']:>8} gap {row['gap']:7.3f}% feasible {row['feasible']} "
                f"{row['wall_s']}s {row['note']}",
                file=sys.stderr,
                flush=True,
            )
            if out:
                out.write(json.dumps(row) + "\n")
                out.flush()
    print(f"\n{args.set}: {len(paths)} instances, budget {args.budget} s, seeds {args.seeds}, jobs {args.jobs}\n")
    print(table(rows, solvers))


if __name__ == "__main__":
    main()
