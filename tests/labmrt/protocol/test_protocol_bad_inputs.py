"""Every kind of bad protocol file gets one specific message and exit 2, never a traceback.

Each case starts from a valid protocol (checked to pass first), changes one
thing, runs ``labmrt validate`` through :func:`labmrt.cli.main` and asserts the
exact ``FILE: where: what (fix)`` text (or its distinctive part).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from labmrt.cli import main

BASE = """\
moderators = ["affect_state", "hr"]
controls = ["task_index"]

[study]
title = "Bad inputs"
version = "1"

[[arms]]
id = "neutral"
label = "Neutral"
framing = "{task}"
baseline = true

[[arms]]
id = "gain"
label = "Gain"
framing = "You can gain. {task}"

[[arms]]
id = "loss"
label = "Loss"
framing = "You can lose. {task}"

[randomization]
seed = 7
context = "affect_state"

[randomization.table.calm]
neutral = "1/3"
gain = "1/3"
loss = "1/3"

[randomization.table.aroused]
neutral = 0.5
gain = 0.25
loss = 0.25

[randomization.table.unknown]
neutral = 0.4
gain = 0.3
loss = 0.3

[decision_rules]
select = "all"
require_signal = true
min_quality = 0.5

[[features]]
id = "help"
label = "Help"
kind = "help"

[[features]]
id = "calculator"
label = "Calculator"
kind = "calculator"

[[features]]
id = "table"
label = "Table"
kind = "comparison_table"

[[tasks]]
id = "t1"
text = "Pick the cheaper plan."
answer_kind = "choice"
choices = ["A", "B"]
correct = "A"
difficulty = 1
features = ["help", "calculator", "table"]
table = { columns = ["Plan", "Price"], rows = [["A", 10], ["B", 12]] }

[[tasks]]
id = "t2"
text = "Pick the better account."
features = ["help", "calculator"]

[[outcomes]]
name = "help_seconds"
features = ["help"]
measure = "duration"
window = "task"
transform = "log1p"

[control]
min_dwell_s = 2

[calibration]
rest_s = 60
stressor_s = 30

[sensors]
streams = ["ecg", "eda"]
"""

CSV_BASE = (
    "id,text,difficulty,features,table\n"
    't1,Pick the cheaper plan.,1,help;table,"{""columns"": [""Plan"", ""Price""], '
    '""rows"": [[""A"", 10], [""B"", 12]]}"\n'
    "t2,Pick the better account.,2,help;calculator,\n"
)

MINIMAL = """\
[study]
title = "Minimal"
version = "1"

[[arms]]
id = "neutral"
label = "Neutral"
framing = "{task}"
baseline = true

[[arms]]
id = "gain"
label = "Gain"
framing = "Gain. {task}"

[randomization]
seed = 1
probabilities = { neutral = 0.5, gain = 0.5 }

[[tasks]]
id = "t1"
text = "Do it."
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"test set-up: {old!r} not in the base protocol"
    return text.replace(old, new, 1)


def run_validate(tmp_path: Path, capsys, toml: str | bytes, csv: str | None = None, name="p.toml"):
    path = tmp_path / name
    if isinstance(toml, bytes):
        path.write_bytes(toml)
    else:
        path.write_text(toml, encoding="utf-8")
    if csv is not None:
        (tmp_path / "tasks.csv").write_text(csv, encoding="utf-8")
    code = main(["validate", str(path)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.err, path


def with_csv(text: str = BASE) -> str:
    """BASE with its inline tasks replaced by tasks_file = "tasks.csv"."""
    head, _, tail = text.partition("[[tasks]]")
    rest = tail[tail.index("[[outcomes]]") :]
    return 'tasks_file = "tasks.csv"\n' + head + rest


def test_base_protocols_are_valid(tmp_path, capsys):
    assert run_validate(tmp_path, capsys, BASE)[0] == 0
    assert run_validate(tmp_path, capsys, with_csv(), CSV_BASE)[0] == 0
    assert run_validate(tmp_path, capsys, MINIMAL)[0] == 0


# (id, protocol text, tasks CSV or None, expected message line with {f} = protocol path,
#  {c} = CSV path)
CASES: list[tuple[str, str | bytes, str | None, str]] = [
    (
        "empty file",
        "",
        None,
        "{f}: is empty (start from protocols/minimal.toml (docs/guides/protocols.md))",
    ),
    ("only whitespace", "  \n\n\t\n", None, "{f}: is empty"),
    (
        "binary garbage",
        bytes(range(256)) * 4,
        None,
        "{f}: is not a text file (not UTF-8) (a protocol is a TOML text file)",
    ),
    ("NUL bytes", b"[study]\x00\x00title", None, "{f}: is not a text file (contains NUL bytes)"),
    (
        "truncated file",
        BASE[: BASE.index('label = "Gain"') + 10],
        None,
        "{f}: end of file: is not valid TOML: Unterminated string "
        "(the file looks truncated: complete or restore it)",
    ),
    (
        "unterminated string mid-file",
        edit(BASE, 'label = "Gain"', 'label = "Gain'),
        None,
        "{f}: line 16, column 14: is not valid TOML: Illegal character",
    ),
    (
        "duplicate key",
        edit(BASE, 'version = "1"', 'version = "1"\nversion = "2"'),
        None,
        "is not valid TOML: Cannot overwrite a value",
    ),
    (
        "unknown top-level key",
        edit(BASE, "moderators =", "moderator ="),
        None,
        "{f}: moderator: unknown key 'moderator' (did you mean 'moderators'?)",
    ),
    (
        "unknown arm key",
        edit(BASE, "baseline = true", "baseline_arm = true"),
        None,
        "{f}: arms[1].baseline_arm: unknown key 'baseline_arm' (did you mean 'baseline'?)",
    ),
    (
        "unknown randomization key",
        edit(BASE, "seed = 7", "seeds = 7"),
        None,
        "{f}: randomization.seeds: unknown key 'seeds' (did you mean 'seed'?)",
    ),
    (
        "missing study table",
        edit(BASE, '[study]\ntitle = "Bad inputs"\nversion = "1"\n', ""),
        None,
        "{f}: study: is required but missing (add study = ...)",
    ),
    (
        "seed as text",
        edit(BASE, "seed = 7", 'seed = "abc"'),
        None,
        "{f}: randomization.seed: must be a whole number, got 'abc' "
        "(write an integer such as 20240917)",
    ),
    (
        "label wrong type",
        edit(BASE, 'label = "Gain"', "label = 3"),
        None,
        "{f}: arms[2].label: must be text, got an integer 3 (quote it)",
    ),
    (
        "probability zero",
        edit(BASE, "gain = 0.25", "gain = 0.0"),
        None,
        "{f}: randomization.table.aroused.gain: is 0.0 but must be greater than 0.0",
    ),
    (
        "probability above one",
        edit(BASE, "neutral = 0.5", "neutral = 1.2"),
        None,
        "{f}: randomization.table.aroused.neutral: is 1.2 but must be less than 1.0",
    ),
    (
        "probabilities do not sum to one",
        edit(BASE, "neutral = 0.4", "neutral = 0.3"),
        None,
        "{f}: randomization.table.unknown: probabilities sum to 0.9, not 1",
    ),
    (
        "probability text",
        edit(BASE, 'neutral = "1/3"', 'neutral = "one third"'),
        None,
        "{f}: randomization.table.calm.neutral: 'one third' is not a probability",
    ),
    (
        "probability for unknown arm",
        edit(BASE, "gain = 0.3", "gian = 0.3"),
        None,
        "{f}: randomization.table.unknown.gian: 'gian' is not an arm (did you mean 'gain'?)",
    ),
    (
        "arm without probability",
        edit(
            MINIMAL,
            "probabilities = { neutral = 0.5, gain = 0.5 }",
            "probabilities = { neutral = 0.5 }",
        ),
        None,
        "{f}: randomization.probabilities: has no probability for arm(s) gain",
    ),
    (
        "no baseline",
        edit(BASE, "baseline = true", "baseline = false"),
        None,
        "{f}: arms: no baseline arm (mark exactly one arm",
    ),
    (
        "two baselines",
        edit(
            BASE,
            'framing = "You can gain. {task}"',
            'framing = "You can gain. {task}"\nbaseline = true',
        ),
        None,
        "{f}: arms[2].baseline: more than one baseline arm (neutral, gain)",
    ),
    (
        "one arm only",
        edit(MINIMAL, '[[arms]]\nid = "gain"\nlabel = "Gain"\nframing = "Gain. {task}"\n', ""),
        None,
        "{f}: arms: has 1 item(s) but needs at least 2",
    ),
    (
        "duplicate arm id",
        edit(BASE, 'id = "loss"', 'id = "gain"'),
        None,
        "{f}: arms[3].id: duplicate arm id 'gain'",
    ),
    (
        "arm id not an identifier",
        edit(BASE, 'id = "loss"', 'id = "loss framing"'),
        None,
        "{f}: arms[3].id: 'loss framing' is not a valid identifier",
    ),
    (
        "framing without placeholder",
        edit(BASE, 'framing = "You can lose. {task}"', 'framing = "You can lose."'),
        None,
        "{f}: arms[3].framing: does not contain the {{task}} placeholder",
    ),
    (
        "duplicate task id",
        edit(BASE, 'id = "t2"', 'id = "t1"'),
        None,
        "{f}: tasks[2].id: duplicate task id 't1'",
    ),
    (
        "task names unknown feature",
        edit(BASE, 'features = ["help", "calculator"]\n', 'features = ["help", "calculater"]\n'),
        None,
        "{f}: tasks[2].features[2]: unknown feature 'calculater' (did you mean 'calculator'?)",
    ),
    (
        "choice answer not among choices",
        edit(BASE, 'correct = "A"', 'correct = "C"'),
        None,
        "{f}: tasks[1].correct: 'C' is not one of the choices",
    ),
    (
        "comparison table row too short",
        edit(BASE, '["B", 12]', '["B"]'),
        None,
        "{f}: tasks[1].table.rows[2]: has 1 cells but there are 2 columns",
    ),
    (
        "comparison table offered without data",
        edit(BASE, 'features = ["help", "calculator"]\n', 'features = ["help", "table"]\n'),
        None,
        "{f}: tasks[2].table: the task offers a comparison table but gives no table data",
    ),
    (
        "context value typo",
        edit(BASE, "[randomization.table.calm]", "[randomization.table.clam]"),
        None,
        "{f}: randomization.table.clam: 'clam' is not an affective state (did you mean 'calm'?)",
    ),
    (
        "fallback row missing",
        edit(BASE, "[randomization.table.unknown]\nneutral = 0.4\ngain = 0.3\nloss = 0.3\n", ""),
        None,
        "{f}: randomization.fallback: row 'unknown' is not in the table",
    ),
    (
        "context not recorded as moderator",
        edit(BASE, 'moderators = ["affect_state", "hr"]', 'moderators = ["hr"]'),
        None,
        "{f}: randomization.context: 'affect_state' is not listed in moderators",
    ),
    (
        "both constant and table probabilities",
        edit(
            BASE,
            "seed = 7",
            "seed = 7\nprobabilities = { neutral = 0.5, gain = 0.25, loss = 0.25 }",
        ),
        None,
        "{f}: randomization: has both probabilities and table",
    ),
    (
        "outcome measure typo",
        edit(BASE, 'measure = "duration"', 'measure = "durration"'),
        None,
        "{f}: outcomes[1].measure: 'durration' is not allowed (did you mean 'duration'?)",
    ),
    (
        "outcome negative window",
        edit(BASE, 'window = "task"', "window = -5"),
        None,
        '{f}: outcomes[1].window: must be "task" or a number of seconds > 0, got -5',
    ),
    (
        "log1p of a 0/1 outcome",
        edit(BASE, 'measure = "duration"', 'measure = "any"'),
        None,
        "{f}: outcomes[1].transform: log1p of a 0/1 outcome (measure any) changes nothing useful",
    ),
    (
        "decision list names unknown task",
        edit(BASE, 'select = "all"', 'select = "list"\ntask_ids = ["t1", "t3"]'),
        None,
        "{f}: decision_rules.task_ids[2]: unknown task 't3'",
    ),
    (
        "start task beyond the session",
        edit(BASE, 'select = "all"', 'select = "every_k"\nevery_k = 2\nstart_task = 5'),
        None,
        "{f}: decision_rules.start_task: is 5 but there are only 2 tasks",
    ),
    (
        "min quality out of range",
        edit(BASE, "min_quality = 0.5", "min_quality = 50"),
        None,
        "{f}: decision_rules.min_quality: is 50 but must be at most 1.0",
    ),
    (
        "stressor none with stressor time",
        edit(BASE, "stressor_s = 30", 'stressor_s = 30\nstressor = "none"'),
        None,
        '{f}: calibration.stressor: is "none" but stressor_s is 30',
    ),
    (
        "unknown stream kind",
        edit(BASE, 'streams = ["ecg", "eda"]', 'streams = ["ecg", "eeg"]'),
        None,
        "{f}: sensors.streams[2]: 'eeg' is not allowed (did you mean 'ecg'?)",
    ),
    (
        "missing model file",
        edit(
            BASE, 'streams = ["ecg", "eda"]', 'streams = ["ecg", "eda"]\nclassifier = "model.json"'
        ),
        None,
        "{f}: sensors.classifier: model file 'model.json' not found next to the protocol "
        "(looked for {d}model.json; copy the model file beside the protocol",
    ),
    (
        "difficulty as text",
        edit(BASE, "difficulty = 1", 'difficulty = "easy"'),
        None,
        "{f}: tasks[1].difficulty: must be a number, got text 'easy' (write it without quotes)",
    ),
    (
        "infinite number",
        edit(BASE, 'select = "all"', 'select = "all"\nmin_spacing_s = inf'),
        None,
        "{f}: decision_rules.min_spacing_s: must be a finite number, got inf",
    ),
    (
        "probabilities given as a list",
        edit(
            MINIMAL,
            "probabilities = { neutral = 0.5, gain = 0.5 }",
            "probabilities = [0.5, 0.5]",
        ),
        None,
        "{f}: randomization.probabilities: must be a table, got a list [0.5, 0.5]",
    ),
    (
        "per-task wording for an unknown arm",
        with_csv(),
        CSV_BASE.replace("id,text,", "id,framing_gian,text,")
        .replace("t1,", "t1,Gain!,", 1)
        .replace("t2,", "t2,,", 1),
        "{c}: line 2 (task t1): framings.gian: 'gian' is not an arm (did you mean 'gain'?)",
    ),
    (
        "missing tasks CSV",
        with_csv(),
        None,
        "{f}: tasks_file: 'tasks.csv' not found next to the protocol (looked for {c}; copy the "
        "tasks CSV beside the protocol",
    ),
    ("empty tasks CSV", with_csv(), "", "{c}: is empty"),
    (
        "tasks CSV unknown column",
        with_csv(),
        CSV_BASE.replace("id,text,", "id,txt,"),
        "{c}: line 1: unknown column 'txt' (did you mean 'text'?)",
    ),
    (
        "tasks CSV bad number",
        with_csv(),
        CSV_BASE.replace(",2,help;calculator", ",hard,help;calculator"),
        "{c}: line 3 (task t2): difficulty: must be a number, got text 'hard'",
    ),
    (
        "tasks CSV bad table JSON",
        with_csv(),
        CSV_BASE.replace('[""B"", 12]]}', '[""B"", 12]'),
        "{c}: line 2 (task t1): table: is not valid JSON",
    ),
    (
        "tasks CSV unknown feature",
        with_csv(),
        CSV_BASE.replace("help;calculator", "help;calc"),
        "{c}: line 3 (task t2): features[2]: unknown feature 'calc' (did you mean 'calculator'?)",
    ),
    (
        "tasks CSV row with too many cells",
        with_csv(),
        CSV_BASE + "t3,Third, with comma,1,help,\n",
        "{c}: line 4: has 6 cells but the header has 5 columns (quote cells that contain commas)",
    ),
    (
        "tasks inline and in CSV",
        'tasks_file = "tasks.csv"\n' + BASE,
        CSV_BASE,
        "{f}: tasks: tasks are given both inline and in tasks_file",
    ),
]


@pytest.mark.parametrize(
    ("toml", "csv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_reported_and_exits_2(tmp_path, capsys, toml, csv, expected):
    code, err, path = run_validate(tmp_path, capsys, toml, csv)
    assert code == 2
    expected = expected.format(f=path, c=tmp_path / "tasks.csv", d=f"{tmp_path}/")
    assert expected in err, f"expected\n  {expected}\nin\n  {err}"


def test_at_least_thirty_bad_inputs():
    assert len(CASES) >= 30


def test_missing_and_folder_paths(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.toml")]) == 2
    assert f"{tmp_path / 'nope.toml'}: file not found (check the path)" in capsys.readouterr().err
    assert main(["validate", str(tmp_path)]) == 2
    assert f"{tmp_path}: is a folder, not a protocol file" in capsys.readouterr().err


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    text = edit(BASE, "moderators =", "moderator =")
    text = edit(text, 'label = "Gain"', "label = 3")
    text = edit(text, 'measure = "duration"', 'measure = "durration"')
    code, err, _ = run_validate(tmp_path, capsys, text)
    assert code == 2
    assert len(err.strip().splitlines()) == 3
    assert "unknown key 'moderator'" in err and "arms[2].label" in err and "durration" in err


def test_one_bad_file_among_good_ones_fails_the_run(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL, encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text("", encoding="utf-8")
    assert main(["validate", str(good), str(bad)]) == 2
    out = capsys.readouterr()
    assert f"{good}: OK" in out.out
    assert f"{bad}: is empty" in out.err
    assert "1 of 2 protocol file(s) have problems" in out.err


def test_table_json_error_names_the_position(tmp_path, capsys):
    bad = CSV_BASE.replace('""rows""', "rows")
    code, err, _ = run_validate(tmp_path, capsys, with_csv(), bad)
    assert code == 2
    assert "is not valid JSON (Expecting property name enclosed in double quotes" in err
    json.dumps(err)  # the message is plain text


def test_random_damage_never_escapes_as_a_traceback(tmp_path, capsys):
    """Truncations, deleted lines and wrong values anywhere: exit 0 or 2, never 1."""
    rng = random.Random(20240917)
    wrong = ['"x"', "3", "-1", "0", "1.5", "true", "[]", "{}", '["a"]', "nan", "inf", '""']
    base_lines = BASE.splitlines()
    codes = Counter()
    for _ in range(300):
        lines = list(base_lines)
        op = rng.randrange(3)
        if op == 0:
            text = BASE[: rng.randrange(len(BASE))]
        elif op == 1:
            del lines[rng.randrange(len(lines))]
            text = "\n".join(lines)
        else:
            j = rng.choice([i for i, ln in enumerate(lines) if " = " in ln])
            lines[j] = lines[j].split(" = ")[0] + " = " + rng.choice(wrong)
            text = "\n".join(lines)
        code, err, _ = run_validate(tmp_path, capsys, text)
        assert code in (0, 2), err
        assert "unexpected error" not in err
        codes[code] += 1
    assert codes[2] > 200  # the damage mostly breaks the file, and every break is reported


def test_protocol_copied_away_from_its_files_names_the_protocol_and_every_problem(tmp_path, capsys):
    """Copied without its tasks CSV and model, with an unknown key: all of it, against p.toml."""
    text = with_csv().replace('tasks_file = "tasks.csv"', 'tasks_file = "demo_tasks.csv"')
    text = "colour = 3\n" + edit(
        text, 'streams = ["ecg", "eda"]', 'streams = ["ecg", "eda"]\nclassifier = "m/model.json"'
    )
    code, err, path = run_validate(tmp_path, capsys, text)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines == [
        f"{path}: tasks_file: 'demo_tasks.csv' not found next to the protocol (looked for "
        f"{tmp_path / 'demo_tasks.csv'}; copy the tasks CSV beside the protocol, or correct "
        "tasks_file, which is relative to the protocol's folder)",
        f"{path}: sensors.classifier: model file 'm/model.json' not found next to the protocol "
        f"(looked for {tmp_path / 'm' / 'model.json'}; copy the model file beside the protocol, "
        'train one with "labmrt sensors train", or write "calibration")',
        f"{path}: colour: unknown key 'colour' (use one of: study, arms, randomization, "
        "decision_rules, features, tasks, outcomes, control, calibration, sensors, moderators, "
        "controls, recording, tasks_file)",
    ]


def test_file_references_that_are_folders_or_absolute_paths(tmp_path, capsys):
    (tmp_path / "tasks.csv").mkdir()
    (tmp_path / "model.json").mkdir()
    text = edit(
        with_csv(),
        'streams = ["ecg", "eda"]',
        'streams = ["ecg", "eda"]\nclassifier = "model.json"',
    )
    code, err, path = run_validate(tmp_path, capsys, text)
    assert code == 2
    assert f"{path}: tasks_file: 'tasks.csv' is a folder, not a file" in err
    assert f"{path}: sensors.classifier: model file 'model.json' is a folder, not a file" in err
    assert len(err.strip().splitlines()) == 2

    gone = tmp_path / "elsewhere" / "tasks.csv"
    text = with_csv().replace('tasks_file = "tasks.csv"', f'tasks_file = "{gone}"')
    code, err, path = run_validate(tmp_path, capsys, text, name="q.toml")
    assert code == 2
    assert f"{path}: tasks_file: '{gone}' not found (looked for {gone};" in err


def test_problems_of_the_tasks_csv_and_of_the_protocol_are_reported_together(tmp_path, capsys):
    text = edit(with_csv(), 'label = "Gain"', "label = 3")
    text = edit(text, "[sensors]", '[sensors]\nclassifier_sha256 = "abc"')
    bad_csv = CSV_BASE.replace("id,text,", "id,txt,")
    code, err, path = run_validate(tmp_path, capsys, text, bad_csv)
    assert code == 2
    assert f"{path}: sensors.classifier_sha256: is computed from the model file" in err
    assert f"{tmp_path / 'tasks.csv'}: line 1: unknown column 'txt'" in err
    assert f"{path}: arms[2].label: must be text" in err
    assert f"{tmp_path / 'tasks.csv'}: line 1: has no 'text' column" in err
    assert "tasks: is required" not in err  # the tasks could not be read: said once, above
    assert len(err.strip().splitlines()) == 4


def test_a_good_model_file_next_to_the_protocol_is_hashed(tmp_path):
    from labmrt.protocol import load_protocol

    (tmp_path / "tasks.csv").write_text(CSV_BASE, encoding="utf-8")
    (tmp_path / "model.json").write_text('{"kind": "test"}', encoding="utf-8")
    text = edit(
        with_csv(),
        'streams = ["ecg", "eda"]',
        'streams = ["ecg", "eda"]\nclassifier = "model.json"',
    )
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    protocol = load_protocol(tmp_path / "p.toml")
    import hashlib

    expected = hashlib.sha256(b'{"kind": "test"}').hexdigest()
    assert protocol.sensors.classifier_sha256 == expected
    assert protocol.classifier_path() == tmp_path / "model.json"
