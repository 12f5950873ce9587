"""``hub-fleet``: allocate, search, run scenarios and make synthetic municipalities from the shell."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from hub.optimise.fleet import synthetic
from hub.optimise.fleet.allocation import allocate
from hub.optimise.fleet.io import FleetDataError, read_dataset, vehicle_row, write_csv, write_dataset
from hub.optimise.fleet.model import Dataset
from hub.optimise.fleet.report import render_report
from hub.optimise.fleet.scenario import fossil_plates, run_scenario
from hub.optimise.fleet.search import DEFAULT_CO2E_PRICES, DEFAULT_TIME_BUDGET_S, search_fleet

PRESETS = {"synthetic": synthetic.MunicipalitySpec(), "holbaek-like": synthetic.HOLBAEK_LIKE,
           "aarhus-like": synthetic.AARHUS_LIKE}


def _progress(quiet: bool):
    def show(fraction: float, message: str) -> None:
        if not quiet:
            print(f"[{100 * fraction:5.1f} %] {message}", file=sys.stderr, flush=True)

    return show


def _load(source: str) -> Dataset:
    if source.startswith("synthetic:"):
        return synthetic.generate(PRESETS[source.split(":", 1)[1]])
    return read_dataset(source)


def _write(out: Path | None, name: str, payload: Any) -> None:
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    if name.endswith(".json"):
        (out / name).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    elif name.endswith(".csv"):
        write_csv(payload, out / name)
    else:
        (out / name).write_text(payload, encoding="utf-8")


def _max_unallocated(text: str) -> int | str | None:
    if text == "today":
        return "today"
    if text == "none":
        return None
    return int(text)


def cmd_allocate(args: argparse.Namespace) -> dict[str, Any]:
    data = _load(args.data)
    alloc = allocate(data.roundtrips, data.fleet, data.settings, progress=_progress(args.quiet))
    _write(args.out, "driving_log.csv", alloc.driving_log())
    _write(args.out, "allocation.json", alloc.summary())
    return alloc.summary()


def cmd_search(args: argparse.Namespace) -> dict[str, Any]:
    data = _load(args.data)
    result = search_fleet(data, co2e_prices=args.co2e_prices, max_unallocated=_max_unallocated(args.max_unallocated),
                          max_co2e_t=args.max_co2e_t, time_budget_s=args.time_budget or None,
                          workers=args.workers, progress=_progress(args.quiet))
    price = result.co2e_price
    fleet = result.fleet(result.recommended)
    alloc = allocate(data.roundtrips, fleet, data.settings) if args.out else None
    summary = {
        "today": result.today.as_dict(price), "recommended": result.recommended.as_dict(price),
        "front": [o.as_dict(price) for o in sorted(result.front, key=lambda o: o.cash_dkk)],
        "min_vehicles_all_trips": result.min_vehicles_all_trips, "evaluations": result.evaluations,
        "seconds": round(result.seconds, 2),
    }
    if alloc is not None:
        summary["recommended_allocation"] = alloc.summary()
        _write(args.out, "driving_log.csv", alloc.driving_log())
        _write(args.out, "report.html", render_report(result, f"Fleet optimisation: {data.name}", alloc))
    _write(args.out, "search.json", summary)
    _write(args.out, "recommended_fleet.csv", [vehicle_row(v) for v in fleet])
    _write(args.out, "recommended_fleet.json", [vehicle_row(v) for v in fleet])
    return {k: summary[k] for k in ("today", "recommended", "min_vehicles_all_trips", "evaluations", "seconds")} | {
        "front_size": len(result.front)}


def cmd_scenario(args: argparse.Namespace) -> dict[str, Any]:
    data = _load(args.data)
    replace = args.replace or fossil_plates(data, args.fossil)
    result = run_scenario(data, replace, None if args.drop else args.by, progress=_progress(args.quiet))
    _write(args.out, "scenario.json", result.summary())
    _write(args.out, "driving_log.csv", result.after.driving_log())
    return result.summary()["delta"] | {"replaced": len(replace)}


def cmd_synthetic(args: argparse.Namespace) -> dict[str, Any]:
    data = synthetic.generate(PRESETS[args.preset])
    write_dataset(data, args.out)
    return {"vehicles": len(data.fleet), "roundtrips": len(data.roundtrips), "folder": str(args.out)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hub-fleet", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("data", help="FleetOptimiser export folder, JSON file, or synthetic:<preset>")
        sp.add_argument("--out", type=Path, help="folder for JSON/CSV exports and the HTML report")
        sp.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    a = sub.add_parser("allocate", help="allocate today's fleet exactly; print cost, bound and gap")
    common(a)
    a.set_defaults(func=cmd_allocate)
    s = sub.add_parser("search", help="search fleets: Pareto front of cost vs CO2e and a recommendation")
    common(s)
    s.add_argument("--max-unallocated", default="today",
                   help="'today' (keep today's service level, default), 'none', or a number per pool")
    s.add_argument("--co2e-prices", type=float, nargs="+", default=list(DEFAULT_CO2E_PRICES),
                   help="CO2e prices (DKK/t) swept for the front")
    s.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    s.add_argument("--max-co2e-t", type=float, default=None,
                   help="recommend the least-TCO fleet emitting at most this many t CO2e per year")
    s.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET_S,
                   help=f"search seconds on --workers cores, CPU time; 0: no limit (default {DEFAULT_TIME_BUDGET_S:g})")
    s.set_defaults(func=cmd_search)
    c = sub.add_parser("scenario", help="what if these vehicles are replaced by a candidate type")
    common(c)
    c.add_argument("--replace", nargs="+", help="ids or plates of today's vehicles")
    c.add_argument("--fossil", type=int, help="or: the N fossil cars whose leasing ends first")
    c.add_argument("--by", help="id of the candidate (test) vehicle that replaces them")
    c.add_argument("--drop", action="store_true", help="drop them without replacement")
    c.set_defaults(func=cmd_scenario)
    g = sub.add_parser("synthetic", help="write a seeded synthetic municipality in FleetOptimiser's shape")
    g.add_argument("preset", choices=sorted(PRESETS))
    g.add_argument("out", type=Path)
    g.set_defaults(func=cmd_synthetic)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if getattr(args, "command", "") == "scenario" and not (args.replace or args.fossil):
        print("hub-fleet scenario: give --replace IDS or --fossil N", file=sys.stderr)
        return 2
    if getattr(args, "command", "") == "scenario" and not (args.by or args.drop):
        print("hub-fleet scenario: give --by CANDIDATE_ID or --drop", file=sys.stderr)
        return 2
    try:
        result = args.func(args)
    except (FleetDataError, ValueError, FileNotFoundError) as exc:
        print(f"hub-fleet: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
