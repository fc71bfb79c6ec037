from tunesmith.quickstart.dataset import SIGN_OFF, TOPICS, support_examples


def test_every_answer_carries_its_facts_and_house_style():
    records = support_examples()
    assert len(records) >= 300
    for record in records:
        answer = record["messages"][-1]["content"]
        assert answer.startswith("Hi there") and answer.endswith(SIGN_OFF)
        assert all(fact in answer for fact in record["metadata"]["facts"])


def test_deterministic_and_grouped_by_question():
    assert support_examples(seed=3) == support_examples(seed=3)
    groups = {r["metadata"]["group"] for r in support_examples()}
    assert len(groups) == sum(len(t.questions) for t in TOPICS)
