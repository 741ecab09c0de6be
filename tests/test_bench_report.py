"""Time to target (benchmarks.targets), the tuned sweep's report (benchmarks.lm_report) and the
comparison of two folders of results (benchmarks.compare_results), on records written here."""

import json
import math

import numpy as np
import pytest

from benchmarks import compare_results, lm_report, targets


def _history(losses, seconds=10.0, every=100):
  return [
    dict(step=every * (k + 1), val_loss=v, val_bpb=v / math.log(2), seconds=seconds,
         train_slice_loss=v - 0.1, train_slice_bpb=(v - 0.1) / math.log(2))
    for k, v in enumerate(losses)
  ]  # fmt: skip


def test_first_reaching_counts_training_seconds_up_to_the_first_evaluation_at_the_target():
  history = _history([3.0, 2.5, math.nan, 2.0, 1.9], seconds=10.0)
  assert targets.first_reaching(history, 2.5, "step") == {"step": 200, "seconds": 20.0}
  assert targets.first_reaching(history, 2.0, "step") == {"step": 400, "seconds": 40.0}
  missed = targets.first_reaching(history, 1.5, "step")
  assert set(missed) == {"missed_by"} and missed["missed_by"] == pytest.approx(0.4)


def test_speedup_is_the_baselines_steps_over_the_others_paired_by_seed():
  base = {1: {"step": 1000}, 2: {"step": 900}, 3: {"step": 1200}, 4: {"step": 800}}
  other = {1: {"step": 500}, 2: {"step": 900}, 3: {"step": 600}, 4: {"missed_by": 0.1}}
  row = targets.speedup(base, other, "step")
  assert row["seeds"] == [1, 2, 3] and row["ratios"] == [2.0, 1.0, 2.0] and row["unreached"] == [4]
  logs = np.log([2.0, 1.0, 2.0])
  assert row["geometric_mean"] == pytest.approx(math.exp(logs.mean()))
  half = 4.303 * logs.std(ddof=1) / math.sqrt(3)
  assert row["ci95"] == pytest.approx([math.exp(logs.mean() - half), math.exp(logs.mean() + half)])


def _record(optimizer, rate, seed, losses, policy=False, **hyperparameters):
  record = dict(
    dataset="bible", arch="transformer", optimizer=optimizer, seed=seed, steps=100 * len(losses),
    hyperparameters=dict(peak_learning_rate=rate, **hyperparameters), history=_history(losses),
  )  # fmt: skip
  last = record["history"][-1]
  record["final"] = {k: v for k, v in last.items() if k.startswith(("val_", "train_slice_"))}
  if policy:
    record["policy"] = [
      dict(step=s, rho=0.1 * s / 400, pm=0.8, pv=0.47, ps=0.12) for s in (1, 200, 400)
    ]
  return record


@pytest.fixture
def sweep(tmp_path):
  """AdamW best at 1e-3 on seed 0; PILOT best at 3e-3, and a step ahead of AdamW on seeds 1-3."""
  runs = [
    _record("adamw", 3e-4, 0, [3.0, 2.6, 2.4, 2.3]),
    _record("adamw", 1e-3, 0, [2.9, 2.4, 2.1, 2.0]),
    _record("adamw", 3e-3, 0, [2.9, 2.5, 2.3, 2.2]),
    _record("pilot", 1e-3, 0, [2.9, 2.5, 2.3, 2.2], policy=True),
    _record("pilot", 3e-3, 0, [2.8, 2.3, 2.0, 1.9], policy=True),
    _record("pilot", 1e-2, 0, [2.8, math.nan, math.nan, math.nan], policy=True),
  ]
  for seed in (1, 2, 3):
    runs.append(_record("adamw", 1e-3, seed, [2.9, 2.4, 2.1 + 0.01 * seed, 2.0 + 0.01 * seed]))
    runs.append(_record("pilot", 3e-3, seed, [2.8, 2.3, 1.99, 1.9 + 0.01 * seed], policy=True))
  for k, record in enumerate(runs):
    (tmp_path / f"r{k}.json").write_text(json.dumps(record))
  (tmp_path / "lm_summary.json").write_text("{}")  # the report's own output is not a result
  return tmp_path


def test_the_report_tunes_on_seed_0_and_scores_on_the_others(sweep):
  analysis, _ = lm_report.analyse(lm_report.load(sweep), "adamw")
  final = analysis["final"]
  assert final["adamw"]["rate"] == 1e-3 and final["pilot"]["rate"] == 3e-3
  assert final["pilot"]["interior"]  # 1e-3 and 1e-2 (diverged) were tried beside it
  assert analysis["scoring_seeds"] == {"adamw": [1, 2, 3], "pilot": [1, 2, 3]}
  assert analysis["sensitivity"]["pilot"]["0.01"] == math.inf
  delta = final["pilot"]["vs_baseline"]
  np.testing.assert_allclose(delta["differences"], [-0.1 / math.log(2)] * 3, rtol=1e-9)
  np.testing.assert_allclose(final["pilot"]["gap"]["mean"], 0.1 / math.log(2))


def test_the_report_times_each_optimizer_to_the_baselines_targets(sweep):
  analysis, _ = lm_report.analyse(lm_report.load(sweep), "adamw")
  a, b = analysis["time_to_target"]["A"], analysis["time_to_target"]["B"]
  assert a["value"] == pytest.approx(2.02 / math.log(2))  # AdamW's median final loss
  assert b["value"] == pytest.approx(2.4 / math.log(2)) and "step 200" in b["where"]
  pilot_a = a["optimizers"]["pilot"]
  assert {s: r["step"] for s, r in pilot_a["per_seed"].items()} == {1: 300, 2: 300, 3: 300}
  assert "missed_by" in a["optimizers"]["adamw"]["per_seed"][3]  # above its own median
  assert pilot_a["speedup"]["ratios"] == [400 / 300] * 2 and pilot_a["speedup"]["unreached"] == [3]
  assert b["optimizers"]["pilot"]["speedup"]["geometric_mean"] == pytest.approx(1.0)


def test_the_report_writes_its_tables_plots_and_numbers(sweep, capsys):
  lm_report.main([str(sweep)])
  text = (sweep / "lm_report.md").read_text()
  assert "| PILOT | 0.003 | 1,2,3 |" in text and "Target A" in text and "1.33×, 1.33×" in text
  assert json.loads((sweep / "lm_summary.json").read_text())["baseline"] == "adamw"
  assert {p.name for p in sweep.glob("*.png")} == {
    "bible_transformer_tuned_curves.png",
    "bible_transformer_lr_sensitivity.png",
    "bible_transformer_tuned_policy.png",
    "bible_transformer_final_by_optimizer.png",
  }
  lm_report.main([str(sweep), "--no-plots", "--markdown", str(sweep / "snapshot.md")])
  assert (sweep / "snapshot.md").read_text() == text
  with pytest.raises(SystemExit, match="no runs of the baseline 'lion'"):
    lm_report.main([str(sweep), "--baseline", "lion", "--no-plots"])


def test_the_step_costs_name_only_the_reports_optimizers_as_ratios_to_adamw(sweep):
  analysis, _ = lm_report.analyse(lm_report.load(sweep), "adamw")
  costs = {"command": "lm_step", "seconds_per_step_median": {"adamw": 0.2, "nadamw": 0.21,
                                                              "pilot": 0.25}}  # fmt: skip
  line = lm_report.markdown(analysis, costs).splitlines()[-1]
  assert line.endswith("(`lm_step`): AdamW 0.2000 (1.000×), PILOT 0.2500 (1.250×)")


def test_compare_results_finds_a_changed_number(tmp_path, capsys):
  before, after = tmp_path / "before", tmp_path / "after"
  for folder in (before, after):
    folder.mkdir()
  record = _record("adamw", 1e-3, 0, [2.9, 2.4])
  (before / "a.json").write_text(json.dumps(record))
  record["history"][0]["seconds"] = 99.0  # wall-clock time may differ
  (after / "a.json").write_text(json.dumps(record))
  compare_results.main([str(before), str(after)])
  record["history"][1]["val_loss"] += 1e-12
  (after / "a.json").write_text(json.dumps(record))
  with pytest.raises(SystemExit) as stopped:
    compare_results.main([str(before), str(after)])
  assert stopped.value.code == 1 and "| a | NO | history |" in capsys.readouterr().out


def test_the_policy_plot_draws_each_knob_on_its_whole_range():
  from benchmarks import lm_plots

  policy = [dict(step=s, rho=0.01 * s, pm=0.802, pv=0.4760 + 1e-4 * s, ps=0.119) for s in (10, 20)]
  tunings = {
    "pilot": {"best": 3e-3, "scoring": {1: {"policy": policy}}},
    "pilot_pm": {"best": 1e-2, "scoring": {1: {"policy": policy}}},  # pinned: not drawn
  }
  fig = lm_plots.policy_figure(tunings)
  assert [ax.get_ylim() for ax in fig.axes] == [(-1.0, 1.0), (0.0, 1.0), (0.0, 0.5), (0.0, 1.0)]
  assert "moves by at most 0.001" in fig.axes[2].get_title()
  assert [line.get_label() for line in fig.axes[1].lines] == ["PILOT"]


def test_two_folders_read_as_one_sweep_with_the_best_baseline_column(tmp_path, capsys):
  first, follow_up = tmp_path / "sweep", tmp_path / "followup"
  first.mkdir(), follow_up.mkdir()
  finals = {"adamw": [2.10, 2.00, 2.02, 2.04], "nadamw": [2.05, 1.95, 1.96, 1.99]}
  finals["pilot_frozen"] = [2.0, 1.90, 1.93, 1.92]
  for name, losses in finals.items():
    folder = first if name != "nadamw" else follow_up
    for seed, loss in enumerate(losses):
      (folder / f"{name}_{seed}.json").write_text(
        json.dumps(_record(name, 1e-3, seed, [2.9, loss]))
      )
  lm_report.main([str(first), str(follow_up), "--no-plots"])
  summary = json.loads((follow_up / "lm_summary.json").read_text())
  assert summary["best_baseline"] == "nadamw"  # 1.967 mean on seeds 1-3, against AdamW's 2.020
  row = summary["final"]["pilot_frozen"]
  assert row["vs_baseline"]["mean"] == pytest.approx(np.mean([-0.10, -0.09, -0.12]) / math.log(2))
  assert row["vs_best"]["mean"] == pytest.approx(np.mean([-0.05, -0.03, -0.07]) / math.log(2))
  assert "vs_best" not in summary["final"]["nadamw"]
  assert "(best baseline)" in (follow_up / "lm_report.md").read_text()
  assert not (first / "lm_report.md").exists()  # the report goes into the last folder only


@pytest.fixture
def follow_up(tmp_path):
  """AdamW ends at 2.00/2.02/2.04 nats on seeds 1-3; the frozen policy 0.10 below, p_m alone
  0.08 below, p_v alone level; the weight-decay swaps at given rates on seeds 1-3 only; AdamW on
  a 200-step schedule of its own (steps_200/) ends 0.005 below its 400-step runs."""
  base = {1: 2.00, 2: 2.02, 3: 2.04}
  below = {"adamw": 0.0, "pilot_frozen": 0.10, "pilot_pm": 0.08, "pilot_pv": 0.0}
  runs = []
  for name, gain in below.items():
    runs.append(_record(name, 1e-3, 0, [2.9, 2.5, 2.3, 2.0], weight_decay=1e-2))
    for seed, loss in base.items():
      runs.append(_record(name, 1e-3, seed, [2.9, 2.4, 2.3, loss - gain], weight_decay=1e-2))
  for seed, loss in base.items():
    runs.append(
      _record("adamw_wd_pilot", 1e-3, seed, [2.9, 2.5, 2.3, loss + 0.01], weight_decay=1e-4)
    )
    runs.append(
      _record("pilot_frozen_wd_adamw", 1e-3, seed, [2.9, 2.5, 2.3, loss - 0.12], weight_decay=1e-2)
    )
  (tmp_path / "steps_200").mkdir()
  for k, record in enumerate(runs):
    (tmp_path / f"r{k}.json").write_text(json.dumps(record))
  for seed, loss in base.items():
    short = _record("adamw", 1e-3, seed, [2.6, loss - 0.005], weight_decay=1e-2)
    (tmp_path / "steps_200" / f"s{seed}.json").write_text(json.dumps(short))
  return tmp_path


def test_the_knob_table_gives_each_knobs_share_of_the_frozen_policys_gain(follow_up):
  analysis, _ = lm_report.analyse(lm_report.load(follow_up), "adamw")
  knobs = analysis["knobs"]
  assert set(knobs) == {"pilot_pm", "pilot_pv"} and knobs["pilot_pm"]["knob"] == "p_m"
  assert knobs["pilot_pm"]["share"] == pytest.approx(0.8) and knobs["pilot_pm"]["seeds"] == [
    1,
    2,
    3,
  ]
  assert knobs["pilot_pv"]["share"] == pytest.approx(0.0, abs=1e-12)
  assert knobs["pilot_pm"]["frozen_gain"] == pytest.approx(0.10 / math.log(2))
  assert "pilot_frozen_wd_adamw" not in analysis["sensitivity"]  # not tuned, not in that table


def test_the_weight_decay_swaps_are_paired_with_the_runs_they_change(follow_up):
  analysis, _ = lm_report.analyse(lm_report.load(follow_up), "adamw")
  swaps = analysis["weight_decay"]
  adamw, frozen = swaps["adamw_wd_pilot"], swaps["pilot_frozen_wd_adamw"]
  assert (adamw["weight_decay"], adamw["original_weight_decay"]) == (1e-4, 1e-2)
  assert adamw["vs_original"]["mean"] == pytest.approx(0.01 / math.log(2))
  assert frozen["vs_original"]["mean"] == pytest.approx(-0.02 / math.log(2))
  assert frozen["vs_baseline"]["mean"] == pytest.approx(-0.12 / math.log(2))
  assert analysis["final"]["adamw_wd_pilot"]["given_rate"]
  # At equal weight decay: the frozen policy against AdamW moved to its decay, and moved to AdamW's.
  assert adamw["equal_decay"]["frozen"] == "pilot_frozen"
  assert adamw["equal_decay"]["paired"]["mean"] == pytest.approx(-0.11 / math.log(2))
  assert frozen["equal_decay"]["adamw"] == "adamw"
  assert frozen["equal_decay"]["paired"]["mean"] == pytest.approx(-0.12 / math.log(2))


def test_a_shorter_schedule_with_no_finished_run_yet_is_left_out(follow_up):
  """While its first run trains, a steps_<N>/ folder holds only checkpoints."""
  for path in (follow_up / "steps_200").glob("*.json"):
    path.unlink()
  (follow_up / "steps_200" / "checkpoints").mkdir()
  lm_report.main([str(follow_up), "--no-plots"])
  assert json.loads((follow_up / "lm_summary.json").read_text())["own_schedule"] is None


def test_the_best_baseline_on_a_schedule_of_its_own(follow_up, capsys):
  lm_report.main([str(follow_up), "--no-plots"])  # finds steps_200/ by itself
  own = json.loads((follow_up / "lm_summary.json").read_text())["own_schedule"]
  assert (own["optimizer"], own["steps"], own["full_steps"]) == ("adamw", 200, 400)
  assert own["reached"] == 2  # 1.995 and 2.015 are at or below the median 2.02; 2.035 is not
  assert own["vs_full"]["mean"] == pytest.approx(-0.005 / math.log(2))
  assert "vs_baseline_full" not in own  # the best baseline is AdamW itself
  adamw_at_200 = 2.4 / math.log(2)  # its 400-step runs' loss at step 200
  assert own["vs_full_at_step"]["mean"] == pytest.approx(
    np.mean([(v - 0.005) / math.log(2) - adamw_at_200 for v in (2.00, 2.02, 2.04)])
  )
  frozen_at_200 = 2.4 / math.log(2)
  expected = np.mean([(v - 0.005) / math.log(2) - frozen_at_200 for v in (2.00, 2.02, 2.04)])
  assert own["vs_frozen_at_step"]["mean"] == pytest.approx(expected)
  text = (follow_up / "lm_report.md").read_text()
  assert "| p_m alone (QHAdam-like) | " in text and "| 80% |" in text and "0.0001 (0.01)" in text
  assert "200-step schedule of its own" in text and "0.001 (given)" in text


def test_a_rival_on_a_schedule_of_its_own_is_paired_with_the_baselines_full_runs(follow_up):
  """p_m alone (0.08 below AdamW) as the best baseline, on a 200-step schedule 0.005 below AdamW."""
  for path in (follow_up / "steps_200").glob("*.json"):
    record = json.loads(path.read_text())
    path.write_text(json.dumps(dict(record, optimizer="pilot_pm")))
  lm_report.main([str(follow_up), "--no-plots", "--rivals", "pilot_pm"])
  own = json.loads((follow_up / "lm_summary.json").read_text())["own_schedule"]
  assert (own["optimizer"], own["baseline"]) == ("pilot_pm", "adamw")
  assert own["vs_full"]["mean"] == pytest.approx(0.075 / math.log(2))
  assert own["vs_baseline_full"]["mean"] == pytest.approx(-0.005 / math.log(2))
  assert "| AdamW, 400 steps | -0.0072 |" in (follow_up / "lm_report.md").read_text()


def test_the_final_loss_picture_keeps_far_optimizers_off_its_scale(follow_up):
  from benchmarks import lm_plots

  records = lm_report.load(follow_up)
  records += [_record("lion", 1e-4, s, [3.0, 2.9, 2.8, 2.7]) for s in (0, 1, 2, 3)]
  analysis, tunings = lm_report.analyse(records, "adamw")
  fig = lm_plots.finals_figure(analysis, tunings)
  (ax,) = fig.axes
  low, high = ax.get_ylim()
  assert high < 2.7 / math.log(2) and "off the scale: Lion" in ax.get_title()
  assert low < 1.90 / math.log(2)  # the frozen policy's best seed is on it
  assert len(ax.get_xticklabels()) == len(tunings) - 1
  zoomed = lm_plots.curves_figure(analysis, tunings).axes[1]
  assert zoomed.get_ylim()[1] < 2.7 / math.log(2) and "above it: Lion (3.895)" in zoomed.get_title()


def test_the_pictures_keep_one_colour_per_optimizer_and_draw_an_unscored_run_hollow(sweep):
  from matplotlib.colors import to_hex

  from benchmarks import lm_plots
  from benchmarks.optimizers import ALL_NAMES

  records = lm_report.load(sweep)
  records += [_record("lion", 3e-4, 0, [2.9, 2.4, 2.1, 1.95])]  # tuned, not yet scored
  analysis, tunings = lm_report.analyse(records, "adamw")
  fig = lm_plots.finals_figure(analysis, tunings)
  (ax,) = fig.axes
  points = {line.get_color(): line for line in ax.lines if line.get_linestyle() == "None"}
  lion, pilot = lm_plots._style("lion")["color"], lm_plots._style("pilot")["color"]
  assert points[lion].get_markerfacecolor() == "white" and "hollow" in ax.get_title()
  assert to_hex(points[pilot].get_markerfacecolor()) == to_hex(pilot)
  assert "tuning seed only" in ax.get_xticklabels()[-1].get_text()
  styles = {lm_plots._style(n)["color"] + str(lm_plots._style(n)["ls"]) for n in ALL_NAMES}
  assert len(styles) == len(ALL_NAMES)  # no two registry entries look alike
  looks = {lm_plots._style(n)["color"] + lm_plots._marker(n) for n in ALL_NAMES}
  assert len(looks) == len(ALL_NAMES)  # nor as points


def test_a_knob_tuned_but_not_yet_scored_has_no_gain_rather_than_nan(follow_up):
  records = lm_report.load(follow_up) + [_record("pilot_ps", 1e-3, 0, [2.9, 2.5, 2.3, 1.95])]
  analysis, _ = lm_report.analyse(records, "adamw")
  row = analysis["knobs"]["pilot_ps"]
  assert row["gain"] is None and row["frozen_gain"] is None and row["share"] is None
  text = lm_report.knob_markdown(analysis)
  assert "nan" not in text and "| — | — | — | none in common (not yet scored) |" in text


def test_the_sensitivity_picture_zooms_on_the_tuned_rates_and_their_midpoints(sweep):
  from benchmarks import lm_plots

  records = lm_report.load(sweep)
  records += [_record("adamw", 1.78e-3, 0, [2.9, 2.4, 2.1, 2.05])]  # a midpoint, not the best
  analysis, _ = lm_report.analyse(records, "adamw")
  whole, near = lm_plots.sensitivity_figure(analysis, zoom=0.25).axes
  labels = [t.get_text() for t in whole.get_xticklabels()]
  assert labels == ["0.0003", "0.001", "0.003", "0.01"]  # the grid's rates only
  # every rate within half a decade of a tuned rate (AdamW's 1e-3, PILOT's 3e-3), the midpoint too
  labels = [t.get_text() for t in near.get_xticklabels()]
  assert labels == ["0.0003", "0.001", "0.00178", "0.003", "0.01"]
  low = min(v for row in analysis["sensitivity"].values() for v in row.values())
  assert near.get_ylim()[1] == pytest.approx(low + 0.25)  # the midpoint, 0.22 above, is on it
  assert whole.get_ylim()[1] > 2.3 / math.log(2) > near.get_ylim()[1]  # AdamW at 3e-4


def test_the_learned_policy_is_paired_with_the_frozen_one_and_a_moved_rate_with_the_old(sweep):
  """PILOT ends 0.02 + 0.005·seed nats above its frozen policy on seeds 1-3; scored at 1e-3 too
  (its tuned rate is 3e-3), its 3e-3 ends 0.05 + 0.01·seed below."""
  records = lm_report.load(sweep) + [
    _record("pilot_frozen", 3e-3, 0, [2.8, 2.3, 2.0, 1.95]),
    _record("pilot_frozen", 1e-3, 0, [2.9, 2.5, 2.3, 2.1]),
  ]
  for seed in (1, 2, 3):
    records.append(_record("pilot_frozen", 3e-3, seed, [2.8, 2.3, 2.0, 1.88 + 0.005 * seed]))
    records.append(_record("pilot", 1e-3, seed, [2.9, 2.5, 2.2, 1.95 + 0.02 * seed]))
  analysis, _ = lm_report.analyse(records, "adamw")
  learned = analysis["learned_policy"]
  assert learned["rates"] == [3e-3, 3e-3]
  expected = [(0.02 + 0.005 * s) / math.log(2) for s in (1, 2, 3)]
  np.testing.assert_allclose(learned["paired"]["differences"], expected, rtol=1e-9)
  assert learned["paired"]["mean"] == pytest.approx(np.mean(expected))
  # PILOT's other scored rate only: AdamW's and the frozen policy's others ran on seed 0 alone
  assert list(analysis["rescored"]) == ["pilot"] and list(analysis["rescored"]["pilot"]) == [
    "0.001"
  ]
  moved = analysis["rescored"]["pilot"]["0.001"]
  expected = [-(0.05 + 0.01 * s) / math.log(2) for s in (1, 2, 3)]
  np.testing.assert_allclose(moved["differences"], expected, rtol=1e-9)
  text = lm_report.markdown(analysis, None)
  assert (
    "| PILOT − PILOT, frozen policy | 0.003 − 0.003 | 1,2,3 | +0.0361, +0.0433, +0.0505 |" in text
  )
  assert "| PILOT | 0.003 − 0.001 | 1,2,3 | -0.0866, -0.1010, -0.1154 |" in text


def test_without_a_frozen_policy_or_a_second_scored_rate_neither_table_is_written(sweep):
  analysis, _ = lm_report.analyse(lm_report.load(sweep), "adamw")
  assert analysis["learned_policy"] is None and analysis["rescored"] == {}
  text = lm_report.markdown(analysis, None)
  assert "learned policy adds" not in text and "another rate" not in text
