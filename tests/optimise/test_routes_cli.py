"""``hub-routes`` CLI: example data, plan to JSON/CSV/day sheet, check, re-plan."""

from __future__ import annotations

import json

from hub.optimise.routes.cli import main
from hub.optimise.routes.io import read_carers_csv, read_visits_csv
from hub.optimise.routes.model import Plan


def test_plan_check_and_replan_round_trip(tmp_path, capsys):
    assert main(["example", "--citizens", "25", "--days", "1", "--out", str(tmp_path)]) == 0
    problem = tmp_path / "day-01.json"
    out = tmp_path / "plan.json"
    args = ["plan", str(problem), "--budget", "0.5", "--json", str(out)]
    args += ["--csv", str(tmp_path / "p.csv"), "--sheet", str(tmp_path / "p.html")]
    assert main(args) == 0
    kpis = json.loads(capsys.readouterr().out)
    assert kpis["visits"] > 0
    plan = Plan.model_validate_json(out.read_text())
    assert (tmp_path / "p.csv").read_text().count("\n") >= kpis["assigned"]
    assert "<html" in (tmp_path / "p.html").read_text()
    assert main(["check", str(problem), str(out)]) == 0
    absent = plan.routes[0].carer_id
    assert main(["replan", str(problem), str(out), "--absent", absent, "--json", str(tmp_path / "n.json")]) == 0
    new = Plan.model_validate_json((tmp_path / "n.json").read_text())
    assert absent not in {r.carer_id for r in new.routes}


def test_check_rejects_a_tampered_plan(tmp_path):
    main(["example", "--citizens", "15", "--days", "1", "--out", str(tmp_path)])
    out = tmp_path / "plan.json"
    main(["plan", str(tmp_path / "day-01.json"), "--budget", "0.3", "--json", str(out)])
    plan = Plan.model_validate_json(out.read_text())
    plan.routes[0].stops[-1].start -= 600
    out.write_text(plan.model_dump_json())
    assert main(["check", str(tmp_path / "day-01.json"), str(out)]) == 1


def test_csv_input_with_clock_times(tmp_path):
    visits = read_visits_csv(
        "id,citizen_id,x,y,window_start,window_end,duration,skill,double,preferred_carers\n"
        "a,c1,1,1,08:00,09:00,20,,,k1;k2\n"
        "b,c2,2,1,08:30,10:00,30,nurse,simultaneous,\n"
    )
    carers = read_carers_csv(
        "id,x,y,shift_start,shift_end,skills,break_start,break_end,break_duration\n"
        "k1,0,0,07:00,15:00,nurse,11:00,12:00,30\n"
        "k2,0,0,07:00,15:00,nurse,11:00,12:00,30\n"
    )
    assert visits[0].window_start == 480 and visits[0].preferred_carers == ["k1", "k2"]
    assert visits[1].double is not None and visits[1].skill == "nurse"
    assert carers[0].breaks[0].latest_start == 720
    (tmp_path / "v.csv").write_text(
        "id,x,y,window_start,window_end,duration\nv1,1,1,08:00,09:00,20\nv2,2,2,09:00,10:00,20\n"
    )
    (tmp_path / "c.csv").write_text("id,x,y,shift_start,shift_end\nk1,0,0,07:00,15:00\n")
    code = main(["plan", "--visits", str(tmp_path / "v.csv"), "--carers", str(tmp_path / "c.csv"), "--budget", "0.3"])
    assert code == 0
