"""Fleet bench: our exact search vs the FleetOptimiser-method baseline on the shared fleets and
synthetic municipalities. Prints a markdown table; asserts nothing.

    .venv/bin/python bench/fleet_bench.py                        # every case
    .venv/bin/python bench/fleet_bench.py --cases seed_default m60_l6_d90 --json /tmp/fleet.json

For each case: today's fleet (exact allocation), the baseline's best fleet (greedy first-fit
simulation + GA on a per-km surrogate, per location, at the settings' CO2e price), that fleet
allocated exactly by us, and our recommended fleet at the same CO2e price with no more unallocated
roundtrips than the baseline's in any location and no more CO2e in all (``max_co2e_t``; the
baseline's per-location CO2e guide the search), allocated exactly; also the same search's least-TCO
fleet without the CO2e cap. The search runs under ``--budget`` seconds on ``--workers`` cores
(CPU time). Times are wall clock and CPU seconds on this machine, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fleet_baseline import run_baseline
from hub.optimise.fleet import synthetic
from hub.optimise.fleet.allocation import allocate
from hub.optimise.fleet.io import read_dataset
from hub.optimise.fleet.model import Dataset
from hub.optimise.fleet.search import search_fleet
from models.registry import data_dir

SHARED = ("seed_default", "m60_l6_d90", "L300_l24_d180")
SYNTHETIC = {"synthetic-300": synthetic.MunicipalitySpec(), "holbaek-like": synthetic.HOLBAEK_LIKE,
             "aarhus-like": synthetic.AARHUS_LIKE}


def load(case: str) -> Dataset:
    if case in SYNTHETIC:
        return synthetic.generate(SYNTHETIC[case])
    return read_dataset(data_dir() / "fleet" / case)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the machine is shared: wall time is noisy)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def first_locations(data: Dataset, n: int) -> Dataset:
    """The same data restricted to its first ``n`` locations (locations are independent pools)."""
    locs = sorted({int(x) for x in data.roundtrips.location})[:n]
    trips = data.roundtrips.subset(np.isin(data.roundtrips.location, locs))
    vehicles = [v for v in data.vehicles if v.test_vehicle or (v.homes and v.homes <= set(locs))]
    return Dataset(vehicles, trips, data.settings, data.locations, f"{data.name} (locations {locs})")


def run_case(case: str, workers: int | None, locations: int | None = None, budget: float | None = 50.0,
             dominate: bool = True, keep_service: bool = True) -> dict[str, object]:
    t = time.perf_counter()
    data = load(case)
    if locations:
        data = first_locations(data, locations)
    load_s = time.perf_counter() - t
    price = data.settings.vaerdisaetning_tons_co2
    today = allocate(data.roundtrips, data.fleet, data.settings)

    cpu = cpu_seconds()
    base = run_baseline(data, price)
    base_cpu = cpu_seconds() - cpu
    base_tot = base.totals(price)
    base_exact = allocate(data.roundtrips, base.fleet(), data.settings)

    caps = {locs[0]: r.unallocated_trips for locs, r in zip(base.locations, base.best, strict=True)}
    co2_caps = {locs[0]: r.co2e_t for locs, r in zip(base.locations, base.best, strict=True)} if dominate else None
    t, cpu = time.perf_counter(), cpu_seconds()
    ours = search_fleet(data, max_unallocated=caps, max_co2e_t=base_tot["co2e_t"] if dominate else None,
                        co2e_guides=co2_caps, workers=workers, time_budget_s=budget)
    search_s, search_cpu = time.perf_counter() - t, cpu_seconds() - cpu
    t = time.perf_counter()
    choice = ours.recommended
    ours_alloc = allocate(data.roundtrips, ours.fleet(choice), data.settings)
    alloc_s = time.perf_counter() - t
    ours_cost = ours_alloc.tco()

    today_cost = today.tco()
    if keep_service:
        t = time.perf_counter()
        keep = search_fleet(data, max_unallocated="today", workers=workers, time_budget_s=budget)
        keep_s = time.perf_counter() - t
        keep_alloc = allocate(data.roundtrips, keep.fleet(keep.recommended), data.settings)
        keep_cost = keep_alloc.tco()
        keep_row = {"vehicles": len(keep_alloc.fleet), "tco_dkk": keep_cost.tco_dkk, "cash_dkk": keep_cost.cash_dkk,
                    "co2e_t": keep_cost.co2e_t, "unallocated_trips": len(keep_alloc.unallocated),
                    "search_s": keep_s, "front": len(keep.front), "gap": keep_alloc.gap}
    else:
        keep_row = None
    dominates = (ours_cost.co2e_t <= base_tot["co2e_t"] + 1e-9
                 and len(ours_alloc.unallocated) <= base_tot["unallocated_trips"])
    # the same search's least-TCO fleet without the CO2e cap (no new search)
    free_alloc = allocate(data.roundtrips, ours.fleet(ours.recommend(None)), data.settings)
    free_cost = free_alloc.tco()
    return {
        "case": case if not locations else f"{case} (first {locations} locations)",
        "vehicles_today": len(data.fleet), "roundtrips": len(data.roundtrips),
        "days": data.roundtrips.days, "load_s": round(load_s, 1),
        "today": {"vehicles": len(data.fleet), "tco_dkk": today_cost.tco_dkk, "cash_dkk": today_cost.cash_dkk,
                  "co2e_t": today_cost.co2e_t, "unallocated_trips": len(today.unallocated),
                  "alloc_gap": today.gap, "alloc_s": today.seconds},
        "baseline": base_tot | {"seconds": base.seconds, "cpu_s": base_cpu},
        "baseline_fleet_exact": {"tco_dkk": base_exact.tco().tco_dkk, "co2e_t": base_exact.tco().co2e_t,
                                 "unallocated_trips": len(base_exact.unallocated)},
        "ours": {"vehicles": len(ours_alloc.fleet), "tco_dkk": ours_cost.tco_dkk, "cash_dkk": ours_cost.cash_dkk,
                 "co2e_t": ours_cost.co2e_t, "unallocated_trips": len(ours_alloc.unallocated),
                 "search_s": search_s, "search_cpu_s": search_cpu, "final_alloc_s": alloc_s,
                 "evaluations": ours.evaluations,
                 "front": len(ours.front), "gap": ours_alloc.gap, "bound_dkk": ours_alloc.bound_dkk,
                 "alloc_cost_dkk": ours_alloc.cost_dkk,
                 "pools_out_of_time": sum(p.out_of_time for p in ours.pools),
                 "no_more_co2e_nor_unallocated": dominates},
        "ours_no_co2e_cap": {"vehicles": len(free_alloc.fleet), "tco_dkk": free_cost.tco_dkk,
                             "co2e_t": free_cost.co2e_t, "unallocated_trips": len(free_alloc.unallocated),
                             "gap": free_alloc.gap},
        "ours_keep_service": keep_row,
        "load_average": os.getloadavg(),
    }


def table(rows: list[dict]) -> str:
    head = ("| case | today TCO MDKK | baseline TCO (sim) | baseline fleet, exact alloc | ours TCO | ours vs baseline "
            "| CO2e t/yr base / ours | unalloc base / ours | ours search s (CPU s) | baseline s (CPU s) | gap |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        b, o, bx = r["baseline"], r["ours"], r["baseline_fleet_exact"]
        lines.append(
            f"| {r['case']} | {r['today']['tco_dkk'] / 1e6:.3f} | {b['tco_dkk'] / 1e6:.3f} | {bx['tco_dkk'] / 1e6:.3f} "
            f"| {o['tco_dkk'] / 1e6:.3f} | {100 * (o['tco_dkk'] / b['tco_dkk'] - 1):+.1f} % "
            f"| {b['co2e_t']:.1f} / {o['co2e_t']:.1f} | {b['unallocated_trips']} / {o['unallocated_trips']} "
            f"| {o['search_s']:.1f} ({o['search_cpu_s']:.1f}) | {b['seconds']:.1f} ({b['cpu_s']:.1f}) "
            f"| {100 * o['gap']:.3f} % | {'yes' if o['no_more_co2e_nor_unallocated'] else 'NO'} |")
    lines += ["", "| case | ours without the CO2e cap: TCO MDKK | vs baseline | CO2e t/yr | unalloc |",
              "|" + "---|" * 5]
    for r in rows:
        f, b = r["ours_no_co2e_cap"], r["baseline"]
        lines.append(f"| {r['case']} | {f['tco_dkk'] / 1e6:.3f} | {100 * (f['tco_dkk'] / b['tco_dkk'] - 1):+.1f} % "
                     f"| {f['co2e_t']:.1f} | {f['unallocated_trips']} |")
    lines += ["", "| case | vehicles today -> ours (service kept) | saved DKK/yr | saved t CO2e/yr "
              "| unalloc today / ours | front | search s |", "|" + "---|" * 7]
    for r in rows:
        t, k = r["today"], r["ours_keep_service"]
        if k is None:
            continue
        lines.append(f"| {r['case']} | {t['vehicles']} -> {k['vehicles']} | {t['tco_dkk'] - k['tco_dkk']:,.0f} "
                     f"| {t['co2e_t'] - k['co2e_t']:.1f} | {t['unallocated_trips']} / {k['unallocated_trips']} "
                     f"| {k['front']} | {k['search_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", nargs="+", default=[*SHARED, *SYNTHETIC])
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--json", type=Path)
    p.add_argument("--locations", type=int, help="only the first N locations of each case (a quicker sample)")
    p.add_argument("--budget", type=float, default=50.0,
                   help="search time budget in seconds on --workers cores (CPU time); 0: none (default 50)")
    p.add_argument("--no-dominate", action="store_true",
                   help="do not cap our CO2e per location at the baseline's (recommend least TCO only)")
    p.add_argument("--no-keep-service", action="store_true",
                   help="skip the second search that keeps today's service level")
    args = p.parse_args()
    rows = []
    for case in args.cases:
        row = run_case(case, args.workers, args.locations, args.budget or None, not args.no_dominate,
                       not args.no_keep_service)
        rows.append(row)
        print(json.dumps(row, default=float), flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2, default=float))
    print(table(rows))


if __name__ == "__main__":
    main()
