import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models are slower with thread hand-offs, and the machine is shared.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
