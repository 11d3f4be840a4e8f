"""Every `styleclip-jax` command shown in the README and docs/ is accepted by the CLI's own parser:
the subcommand exists, every flag belongs to it, and each value passes the flag's type and choices.
Doc notation: `...` elides the arguments shown earlier on the page, `[a | b]` is an optional part
and `(a | b)` a required choice (the first alternative is checked), `x|y` a choice of values (the
first is checked)."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from styleclip_jax.cli.main import build_parser

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"```(?:bash|sh|console)?\n(.*?)```", re.S)


def shown_commands(text: str) -> list[str]:
    """The `styleclip-jax ...` command lines of a page's code blocks (continuations joined)."""
    out = []
    for block in BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            if "styleclip-jax " in line and not line.lstrip().startswith("#"):
                out.append(line[line.index("styleclip-jax ") + len("styleclip-jax ") :])
    return out


def _first_alternatives(text: str) -> str:
    """`[a | b]` -> `a`; `[a]` -> `a`; `(a | b)` -> `a`; nested brackets from the inside out."""
    while True:
        inner = re.sub(r"\[([^\[\]]*)\]", lambda m: m.group(1).split(" | ")[0], text)
        if inner == text:
            break
        text = inner
    return re.sub(r"\(([^()]* \| [^()]*)\)", lambda m: m.group(1).split(" | ")[0], text)


def argv_of(command: str) -> list[str]:
    command = re.sub(r"\s#.*$", "", command)  # a trailing shell comment
    command = command.split("&&")[0]
    tokens = shlex.split(_first_alternatives(command), posix=False)
    argv = []
    for tok in tokens:
        if tok == "...":
            continue
        quoted = tok[:1] in "\"'"
        tok = tok.strip("\"'")
        if not quoted and "|" in tok:  # a choice of values: check the first
            tok = tok.split("|")[0]
        argv.append(tok)
    return argv


def _lenient(parser: argparse.ArgumentParser) -> None:
    """Arguments elided with `...` are not missing: no option is required, in any subparser."""
    for action in parser._actions:
        if action.option_strings:
            action.required = False
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _lenient(sub)
    for group in parser._mutually_exclusive_groups:
        group.required = False


def check(command: str, parser: argparse.ArgumentParser) -> None:
    argv = argv_of(command)
    try:
        parser.parse_args(argv)
    except SystemExit as e:
        if e.code != 0:
            raise AssertionError(f"the CLI refuses the documented command: styleclip-jax {command}") from None


COMMANDS = [(page.relative_to(REPO).as_posix(), c) for page in PAGES for c in shown_commands(page.read_text())]


def test_the_docs_show_commands():
    assert len(COMMANDS) > 30 and {p for p, _ in COMMANDS} >= {"README.md", "docs/photos.md", "docs/onnx.md"}


@pytest.fixture(scope="module")
def parser():
    p = build_parser()
    _lenient(p)
    p.exit = lambda status=0, message=None: (_ for _ in ()).throw(SystemExit(status))
    return p


@pytest.mark.parametrize("page,command", COMMANDS)
def test_documented_command_parses(page, command, parser, capsys):
    check(command, parser)


def test_the_check_refuses_a_wrong_command(parser, capsys):
    """A test of the test: an unknown flag, an unknown subcommand and a bad choice are refused."""
    for bad in ("edit optimize --text a --no-such-flag 1", "edit optimise --text a", "global edit ... --source fs4"):
        with pytest.raises(AssertionError, match="refuses"):
            check(bad, parser)
    check("global edit ... --source population [--alpha 6 | --alphas 0,6]", parser)
