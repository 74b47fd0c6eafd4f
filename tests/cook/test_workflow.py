"""Workflow files: what is accepted, and errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cook.workflow import Step, Workflow, WorkflowError, load_workflow


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workflow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_workflow(tmp_path: Path) -> None:
    workflow = load_workflow(
        write(
            tmp_path,
            """\
name: tidy
max_iterations: 4
focus: docs
env: {A: "1"}
steps:
  - shell: make lint
  - name: tests
    shell: pytest -q
    timeout: 60
    continue_on_error: true
    env: {B: "2"}
""",
        )
    )
    assert workflow.name == "tidy"
    assert workflow.max_iterations == 4
    assert workflow.focus == "docs"
    assert [s.label for s in workflow.steps] == ["make lint", "tests"]
    assert workflow.steps[1] == Step(
        shell="pytest -q", name="tests", timeout=60, continue_on_error=True, env={"B": "2"}
    )


def test_a_bare_list_of_steps(tmp_path: Path) -> None:
    workflow = load_workflow(write(tmp_path, "- shell: echo one\n- shell: echo two\n"))
    assert [s.shell for s in workflow.steps] == ["echo one", "echo two"]
    assert workflow.max_iterations is None


def test_the_recorded_config_round_trips_with_the_environment(tmp_path: Path) -> None:
    workflow = load_workflow(
        write(
            tmp_path,
            """\
env: {A: "1", B: "x"}
steps:
  - shell: a
  - shell: b
    env: {B: "2"}
""",
        )
    )
    config = workflow.to_config()
    again = Workflow.from_config(config)
    assert [s.env for s in again.steps] == [{"A": "1", "B": "x"}, {"A": "1", "B": "2"}]
    assert [s.shell for s in again.steps] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "steps:\n  - shell: ok\n  - shel: typo\n",
            r"workflow.yaml:3: steps\[1\].shell: Field required",
        ),
        (
            "steps:\n  - shell: ok\n    timeout: -1\n",
            r"workflow.yaml:3: steps\[0\].timeout: Input should be greater than 0",
        ),
        ("steps: []\n", r"workflow.yaml:1: steps: Tuple should have at least 1 item"),
        (
            "max_iterations: 0\nsteps:\n  - shell: x\n",
            r"workflow.yaml:1: max_iterations: Input should be greater",
        ),
        (
            "colour: red\nsteps:\n  - shell: x\n",
            r"workflow.yaml:1: colour: Extra inputs are not permitted",
        ),
        ("steps:\n  - shell: [unclosed\n", r"workflow.yaml:3: not valid YAML"),
        ("just a string\n", r"workflow.yaml:1: a workflow is a mapping"),
        ("", r"workflow.yaml: the workflow is empty"),
        ("- shell: a\n- {}\n", r"workflow.yaml:2: steps\[1\].shell: Field required"),
        (
            "steps:\n  - shell: a\n    name: [1]\n",
            r"workflow.yaml:3: steps\[0\].name: Input should be a valid string \(and",
        ),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        load_workflow(write(tmp_path, text))


def test_yaml_tags_are_not_evaluated(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="not valid YAML"):
        load_workflow(write(tmp_path, "steps: !!python/object/apply:os.system ['true']\n"))


def test_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="no such workflow file"):
        load_workflow(tmp_path / "nope.yaml")
    with pytest.raises(WorkflowError, match="is a directory: give a workflow file"):
        load_workflow(tmp_path)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"steps:\n  - shell: caf\xe9\n")
    with pytest.raises(WorkflowError, match=r"latin1.yaml:2: not UTF-8 text \(byte 0xe9\)"):
        load_workflow(bad)
