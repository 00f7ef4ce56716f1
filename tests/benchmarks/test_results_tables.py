"""benchmarks/results_tables.py --quick: the README's tables come from the runs' results.json."""

import importlib.util
import json
import re
import subprocess
import sys

import pytest

from helpers import ROOT

SCRIPT = ROOT / "benchmarks" / "results_tables.py"


def load_script():
    spec = importlib.util.spec_from_file_location("results_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows(markdown):
    """Cells of each body row of the first markdown table in `markdown`."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def readme_blocks(text):
    """{name: content} of the README's results-table blocks, and the text outside them."""
    pattern = r"<!-- results-table: (\S+) -->\n(.*?)\n<!-- /results-table -->"
    return dict(re.findall(pattern, text, re.DOTALL)), re.sub(pattern, "", text, flags=re.DOTALL)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tables")
    readme = tmp / "README.md"
    readme.write_text((ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--runs-dir", str(tmp / "runs"),
         "--update-readme", str(readme)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp, result.stdout


def results(tmp, table, run):
    return json.loads((tmp / "runs" / table / run / "results.json").read_text())


@pytest.mark.slow  # four tiny train.py runs in one process: ~35 s of CPU
def test_default_table_from_its_results(quick):
    tmp, stdout = quick
    r = results(tmp, "default", "default")
    assert (r["model"], r["data"]) == ("synthetic-small", "synthetic")
    assert (r["config"]["hidden_size"], r["config"]["max_max_epoch"]) == (8, 2)  # --quick ran
    (row,) = table_rows((tmp / "runs" / "default.md").read_text())
    label, command, valid, test, floor, fit = row
    assert command == "`python train.py`"
    assert float(valid) == pytest.approx(r["valid_perplexity"], abs=0.005)
    assert float(test) == pytest.approx(r["test_perplexity"], abs=0.005)
    value, percent = re.fullmatch(r"(\S+) \(([+-]\S+)%\)", floor).groups()
    assert float(value) == pytest.approx(r["perplexity_floor"], abs=0.005)
    assert float(percent) == pytest.approx(
        100 * (r["test_perplexity"] / r["perplexity_floor"] - 1), abs=0.05)
    minutes, seconds = re.fullmatch(r"(?:(\d+) min )?(\d+) s fit", fit).groups()
    assert 60 * int(minutes or 0) + int(seconds) == pytest.approx(r["train_seconds"], abs=0.5)
    assert "| " + " | ".join(row) + " |" in stdout


@pytest.mark.slow  # four tiny train.py runs in one process: ~35 s of CPU
def test_cells_table_from_its_results(quick):
    tmp, _ = quick
    rows = table_rows((tmp / "runs" / "mini-ptb-cells.md").read_text())
    assert [row[0] for row in rows] == ["fused", "gate", "keras"]
    tests = []
    for cell, by_epoch, valid, test, _ in rows:
        r = results(tmp, "mini-ptb-cells", cell)
        assert (r["model"], r["cell"], r["config"]["hidden_size"]) == ("ptb-small", cell, 8)
        assert [float(v) for v in by_epoch.split(", ")] == pytest.approx(
            r["history"]["val_perplexity"], abs=0.05)
        assert len(r["history"]["val_perplexity"]) == 2
        assert float(valid) == pytest.approx(r["valid_perplexity"], abs=0.005)
        assert float(test) == pytest.approx(r["test_perplexity"], abs=0.005)
        tests.append(r["test_perplexity"])
    spread = re.search(r"within (\S+)% of each other", (tmp / "runs" / "mini-ptb-cells.md")
                       .read_text()).group(1)
    assert float(spread) == pytest.approx(100 * (max(tests) / min(tests) - 1), abs=0.05)


@pytest.mark.slow  # four tiny train.py runs in one process: ~35 s of CPU
def test_readme_tables_replaced_between_markers_only(quick):
    tmp, _ = quick
    original, original_rest = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    updated, updated_rest = readme_blocks((tmp / "README.md").read_text(encoding="utf-8"))
    assert set(original) == set(updated) == {"default", "mini-ptb-cells", "mini-ptb-quality"}
    assert updated_rest == original_rest
    for name, block in updated.items():
        assert block == (tmp / "runs" / f"{name}.md").read_text().rstrip("\n")


@pytest.mark.slow
def test_quality_table_and_json_from_the_runs_and_their_adaptations(quick):
    tmp, _ = quick
    rows = json.loads((tmp / "runs" / "mini-ptb-quality.json").read_text())
    by_name = {row["name"]: row for row in rows}
    assert list(by_name) == ["awd-mini", "awd-mini + cache", "awd-mini + dynamic eval",
                             "ptb-small"]
    awd = results(tmp, "mini-ptb-quality", "awd-mini-s0")
    adapt = json.loads((tmp / "runs" / "mini-ptb-quality" / "awd-mini-s0" / "adapt.json")
                       .read_text())
    assert awd["model"] == "awd-mini" and awd["config"]["kind"] == "awd"
    assert by_name["awd-mini"]["seeds"] == [awd["test_perplexity"]]
    assert by_name["awd-mini + cache"]["seeds"] == [adapt["cache"]["perplexity"]]
    assert by_name["awd-mini + dynamic eval"]["seeds"] == [adapt["dynamic"]["perplexity"]]
    for method in ("cache", "dynamic"):  # tuned on valid, scored on test, beside the LSTM
        assert adapt[method]["split"] == "test" and adapt[method]["valid"] is not None
        assert adapt[method]["model_perplexity"] == pytest.approx(awd["test_perplexity"],
                                                                  rel=1e-3)
    assert by_name["ptb-small"]["seeds"] == [
        results(tmp, "mini-ptb-quality", "ptb-small-s0")["test_perplexity"]]
    table = table_rows((tmp / "runs" / "mini-ptb-quality.md").read_text())
    assert [row[0] for row in table][-1].startswith("KN-5")
    assert table[0][1] == f"**{awd['test_perplexity']:.1f}** (1 seed)"
    assert by_name["awd-mini"]["test_ppl_sd"] is None
    # the committed JSON is written by real runs only
    committed = ROOT / "benchmarks" / "results" / "mini-ptb-quality.json"
    assert not committed.exists() or json.loads(committed.read_text()) != rows


def test_errors_are_one_line(tmp_path, capsys):
    script = load_script()
    assert script.main(["--render-only", "--runs-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: no results.json for `python train.py` at "
        f"{tmp_path / 'default' / 'default' / 'results.json'}; run this script without "
        "--render-only first\n")
    (tmp_path / "README.md").write_text("no markers\n")
    with pytest.raises(ValueError, match="has no `<!-- results-table: default -->`"):
        script.update_readme(tmp_path / "README.md", {"default": "x"})


def test_every_table_names_the_machine_and_versions_of_its_runs():
    module = load_script()
    machine = {"cpu": "AMD EPYC 7B13", "cpu_cores": 2, "accelerators": [], "python": "3.11.7",
               "tensorflow": "2.21.0", "keras": "3.15.1", "jax": None, "backend": "tensorflow"}
    gpu = dict(machine, accelerators=["NVIDIA H200"])
    results = {"valid_perplexity": 5.0, "test_perplexity": 4.0, "perplexity_floor": 2.0,
               "train_seconds": 61.0, "machine": machine}
    runs = [dict(id="default", label="default", args=[], results=results)]
    markdown = module.render("default", runs)
    assert markdown.splitlines()[-1] == (
        "Measured on AMD EPYC 7B13 (2 cores); Python 3.11.7, TensorFlow 2.21.0, Keras 3.15.1 "
        "(tensorflow backend).")
    runs.append(dict(runs[0], results=dict(results, machine=gpu)))
    assert module.render("default", runs).splitlines()[-1].endswith(
        "and on AMD EPYC 7B13 (2 cores), NVIDIA H200; Python 3.11.7, TensorFlow 2.21.0, "
        "Keras 3.15.1 (tensorflow backend).")


def test_train_records_the_machine_in_results_json(tmp_path):
    from zoo.training.reporting import machine_info

    info = machine_info()
    assert info["cpu_cores"] == __import__("os").cpu_count()
    import keras

    assert info["keras"] == keras.__version__ and info["python"] == sys.version.split()[0]
