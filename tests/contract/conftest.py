"""A project whose training conversations all share one system prompt, and a finished run of it: the inference
contract is then followed through every path (serve, the studio, exports, eval --via, the model card)."""

from __future__ import annotations

import pytest
from contract_helpers import lively_base, make_project, parcel_records


@pytest.fixture(scope="session")
def contract_base(tmp_path_factory):
    return lively_base(tmp_path_factory.mktemp("contract-base"))


@pytest.fixture(scope="session")
def system_project(contract_base, tmp_path_factory):
    """(project, dataset, run folder): every training conversation starts with SYSTEM."""
    return make_project(tmp_path_factory.mktemp("system") / "parcels", contract_base, parcel_records(30))
