"""argparse helpers for a job's command line (the original's ``lava.lib.argparse``)."""

import argparse as _argparse


class StoreNameValuePair(_argparse.Action):
    """An action that gathers ``name=value`` arguments (one per use, or several with ``nargs``)
    into a dict at the option's destination."""

    def __call__(self, parser, namespace, values, option_string=None):
        pairs = getattr(namespace, self.dest, None) or {}
        setattr(namespace, self.dest, pairs)
        for text in values if isinstance(values, list) else [values]:
            if '=' not in text:
                raise _argparse.ArgumentError(self, 'not enough values to unpack (expected 2, got 1)')
            name, value = text.split('=', 1)
            pairs[name] = value


class ArgparserExitError(Exception):
    """Raised instead of exiting when an ``ArgparserNoExit`` parser meets a bad argument."""


ArgparserExitException = ArgparserExitError


class ArgparserNoExit(_argparse.ArgumentParser):
    """An ArgumentParser that prints its message and raises ``ArgparserExitError`` on a bad
    argument instead of ending the process (a successful exit, as for ``--help``, returns)."""

    def exit(self, status=0, message=None):  # noqa: A003 (argparse's name)
        print(message)
        if status:
            raise ArgparserExitError(message)
