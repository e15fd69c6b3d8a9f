"""The console script dispatches to every package that registers commands."""
from cancuoc.cli import build_parser, main


def test_help_lists_commands(capsys):
    parser = build_parser()
    assert parser.prog == "cancuoc"
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
