"""`tunesmith studio` is registered and explains itself."""

from __future__ import annotations

from typer.testing import CliRunner


def test_studio_command_is_registered_with_its_options():
    from tunesmith.cli import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, ["studio", "--help"])
    assert result.exit_code == 0, result.output
    assert "--port" in result.output and "Project folder" in result.output
