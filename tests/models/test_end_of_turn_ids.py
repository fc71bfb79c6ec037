"""The one definition of which token ids end an answer, shared by export, parity and serving."""

from types import SimpleNamespace

from tunesmith.models.loading import end_of_turn_ids


def test_tokenizer_eos_plus_the_generation_configs_id_or_ids():
    tokenizer = SimpleNamespace(eos_token_id=2)
    assert end_of_turn_ids(tokenizer) == {2}
    assert end_of_turn_ids(tokenizer, SimpleNamespace(eos_token_id=7)) == {2, 7}
    assert end_of_turn_ids(tokenizer, SimpleNamespace(eos_token_id=[7, 8])) == {2, 7, 8}
    assert end_of_turn_ids(tokenizer, {"eos_token_id": [2, 9]}) == {2, 9}  # a generation_config.json
    assert end_of_turn_ids(tokenizer, {}) == {2}
    assert end_of_turn_ids(SimpleNamespace(eos_token_id=None), SimpleNamespace(eos_token_id=None)) == set()
