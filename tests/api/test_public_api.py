import tunesmith


def test_every_public_name_resolves():
    for name in tunesmith.__all__:
        assert getattr(tunesmith, name) is not None, name
