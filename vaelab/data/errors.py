"""The one exception type the data layer raises for problems a user can fix."""

from __future__ import annotations


class DataError(ValueError):
    """A data problem: the message names what is wrong, the file or field, and how to fix it."""


class RunDataMissing(DataError):
    """A trained run's data are neither where training read them nor in the folders searched.

    `problem` says what was looked for where; `where` what the run was trained on. The message
    tells a Python user to pass `data_dir`; `for_command` words it for the command line, naming
    the command to run with `--data-dir FOLDER`.
    """

    def __init__(self, problem: str, where: str) -> None:
        self.problem = problem
        self.where = where
        super().__init__(self._worded("pass data_dir=FOLDER, the folder that holds them now, where the run "
                                      "is loaded"))

    def _worded(self, fix: str) -> str:
        return f"{self.problem}\n{self.where}; if they moved, {fix} (or add that folder to $VAELAB_DATA)"

    def for_command(self, command: str) -> str:
        """The message for the command line: `command` is the command to run, ending in
        `--data-dir FOLDER`."""
        return self._worded(f"run `{command}` with FOLDER the folder that holds them now")
