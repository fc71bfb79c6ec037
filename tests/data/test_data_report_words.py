"""The data report a non-expert reads: titled with the project and version, counts explained in words,
samples of what was dropped, and no Python lists."""

from __future__ import annotations

import html

from tunesmith.data import prepare
from tunesmith.data.count_words import MEANINGS


def chat(question: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


QUESTIONS = [
    ("How long do I have to return my e-bike after delivery?", "The return window is 45 days and the label is free."),
    ("Can I change the delivery address of my order after paying?", "Yes, until the bike leaves our warehouse."),
    ("What does the Commuter 2 cost with shipping included?", "It costs 1,499 dollars and shipping is free."),
    ("My battery only lasts twenty kilometres, is that normal?", "No, please book a free battery check online."),
    ("Do you ship the Fold 1 to Belgium and the Netherlands?", "Yes, both, within four working days."),
    ("Which tyre pressure should I use on the Commuter 2?", "Between 3.5 and 4.5 bar depending on your weight."),
]


def test_data_report_speaks_words(make_project):
    rows = [chat(q, a) for q, a in QUESTIONS] * 1  # every record once
    rows += [chat(QUESTIONS[0][0], QUESTIONS[0][1])]  # an exact copy
    rows += [chat(QUESTIONS[1][0].replace("paying", "I paid"), QUESTIONS[1][1])]  # a near-copy
    rows += [chat(QUESTIONS[2][0], "It costs 1,499 dollars; shipping is free.")]  # same question, other answer
    project = make_project({"sources": [{"path": "chat.jsonl"}], "near_duplicates": "drop"},
                           files={"chat.jsonl": rows})
    project.config.name = "bike-shop"
    dataset = prepare(project)
    page = dataset.report_path.read_text()
    counts = dataset.manifest["counts"]
    assert f"<title>bike-shop · data version {dataset.version}</title>" in page
    assert f"<h1>bike-shop · data version {dataset.version}</h1>" in page
    for key, value in counts.items():
        assert f"<td>{key.replace('_', ' ')}</td><td>{value}</td><td>{html.escape(MEANINGS[key])}</td>" in page, key
    assert counts.get("dropped_near_duplicates") == 1
    assert "Samples of dropped records" in page and "I paid" in page  # the dropped near-copy, shown
    assert "1 exact copies were removed" in page
    assert "['" not in page and "[\"" not in page and "{'" not in page  # no Python reprs
    assert "Not measured: this dataset was prepared without loading the model's tokenizer" in page


def test_token_statistics_are_measured_when_the_model_is_a_local_folder(make_project, tiny_lm_dir):
    rows = [chat(q, a) for q, a in QUESTIONS]
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": rows})
    project.config.model.name = str(tiny_lm_dir)
    dataset = prepare(project)  # no tokenizer passed: the folder's own is cheap to load
    tokens = dataset.manifest["tokens"]
    assert tokens["count"] == len(rows) and tokens["max_length"] == project.config.model.max_length
    page = dataset.report_path.read_text()
    assert "Not measured" not in page and "<td>median</td>" in page
