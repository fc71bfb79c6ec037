"""Fine-tuned model ids are formed as OpenAI forms them: `ft:<base>:<org>:<suffix>:<id>`."""

from tunesmith.finetune_api.objects import fine_tuned_model_id


def test_ids_carry_the_org_and_an_empty_suffix_slot():
    job = "ftjob-abc123def456"
    assert fine_tuned_model_id("gpt-4o-mini", None, job) == "ft:gpt-4o-mini:tunesmith-local::abc123de"
    assert fine_tuned_model_id("gpt-4o-mini", "math", job) == "ft:gpt-4o-mini:tunesmith-local:math:abc123de"
