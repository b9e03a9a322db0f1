"""training.report: README's numbers table is the evaluation summaries', never edited by hand."""
import json
import shutil
from pathlib import Path

import pytest

from training import report
from vs_dvd.model import BUNDLED

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_table_is_what_the_report_script_writes_from_the_summaries():
    readme = (ROOT / "README.md").read_text()
    assert report.with_table(readme, report.table()) == readme, "run python -m training.report"


def test_a_row_shows_the_summarys_gains_and_frame_counts(tmp_path):
    shutil.copytree(ROOT / report.EVAL, tmp_path / report.EVAL)
    summary = tmp_path / report.EVAL / "footage-val" / "summary.json"
    s = json.loads(summary.read_text())
    summary.write_text(json.dumps({**s, "gain": 1.234, "gain_on_sharp_input": None, "sharp_input_frames": 0}))
    row = next(line for line in report.table(tmp_path).splitlines() if line.startswith("| [real clips]"))
    assert f"| {s['frames']} |" in row and "**+1.23 dB**" in row
    assert f"| {s['gain_on_blurry_input']:+.2f} dB ({s['blurry_input_frames']}) | – |" in row


def test_summaries_of_another_model_are_refused(tmp_path):
    shutil.copytree(ROOT / report.EVAL, tmp_path / report.EVAL)
    other = tmp_path / "other.onnx"
    other.write_bytes(BUNDLED.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="measured the model with sha256 .* not .*other.onnx .*evaluate this model"):
        report.table(tmp_path, other)


def test_a_missing_summary_names_the_command_that_writes_it(tmp_path):
    with pytest.raises(ValueError, match="no readable evaluation summary .*training.evaluate --out"):
        report.table(tmp_path)


def test_the_table_is_written_between_the_markers_indented_as_they_are():
    readme = f"intro\n- item:\n\n  {report.BEGIN}\n  | old |\n  {report.END}\n\nrest\n"
    assert report.with_table(readme, "| a |\n| b |") == \
        f"intro\n- item:\n\n  {report.BEGIN}\n  | a |\n  | b |\n  {report.END}\n\nrest\n"
    with pytest.raises(ValueError, match="needs the lines"):
        report.with_table("no markers", "| a |")


def test_from_copies_every_sets_evaluation_or_nothing(tmp_path):
    fresh = tmp_path / "evals"
    shutil.copytree(ROOT / report.EVAL, fresh)
    (fresh / "footage-val" / "report.md").write_text("fresh")
    report.copy_evaluation(fresh, tmp_path / "repo")
    assert (tmp_path / "repo" / report.EVAL / "footage-val" / "report.md").read_text() == "fresh"
    (fresh / "photos-val" / "clips.csv").unlink()
    (fresh / "footage-val" / "report.md").write_text("fresher")
    with pytest.raises(ValueError, match="missing .*photos-val/clips.csv"):
        report.copy_evaluation(fresh, tmp_path / "repo")
    assert (tmp_path / "repo" / report.EVAL / "footage-val" / "report.md").read_text() == "fresh"


def test_the_int8_column_shows_the_gains_through_the_models_int8_ir(tmp_path):
    shutil.copytree(ROOT / report.EVAL, tmp_path / report.EVAL)
    summary = tmp_path / report.EVAL / "footage-val" / report.INT8 / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "gain_on_blurry_input": 1.234,
                                   "gain_on_sharp_input": -0.056}))
    row = next(line for line in report.table(tmp_path).splitlines() if line.startswith("| [real clips]"))
    assert row.endswith("| [+1.23 / -0.06 dB](docs/model/eval/footage-val/int8/report.md) |")


def test_int8_numbers_of_another_int8_ir_are_refused(tmp_path):
    shutil.copytree(ROOT / report.EVAL, tmp_path / report.EVAL)
    summary = tmp_path / report.EVAL / "photos-val" / report.INT8 / "summary.json"
    s = json.loads(summary.read_text())
    summary.write_text(json.dumps({**s, "int8_sha256": {name: "0" * 64 for name in s["int8_sha256"]}}))
    with pytest.raises(ValueError, match="another int8 IR .*evaluate it again with --int8"):
        report.table(tmp_path)


def test_a_model_without_int8_ir_has_no_int8_column(tmp_path):
    model = tmp_path / "dbn.onnx"
    shutil.copyfile(BUNDLED, model)
    sidecar = json.loads(BUNDLED.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({k: v for k, v in sidecar.items() if k != "int8"}))
    assert all(line.count("|") == 7 for line in report.table(ROOT, model).splitlines())
