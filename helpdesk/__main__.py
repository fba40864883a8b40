"""The `helpdesk` command. gevent patches the standard library before anything else imports it."""

from gevent import monkey

monkey.patch_all()

# ruff: noqa: E402 - the patch must come first
from helpdesk.cli import cli


def main() -> None:
    cli(prog_name="helpdesk")


if __name__ == "__main__":
    main()
