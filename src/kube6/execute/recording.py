"""A scripted executor for tests: canned replies by argv, every command recorded."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kube6.execute.base import BaseExecutor
from kube6.execute.command import Command, Result

Reply = Result | Callable[[Command], Result]


class RecordingExecutor(BaseExecutor):
    """Answers commands from `replies` (argv tuple -> Result, or a function of the Command).

    An argv that is not scripted gets `default`; with default=None it is a test error that
    names the command, so a test cannot pass on an unexpected command by accident.
    `put` and `get` work on the in-memory `files` (path -> (content, mode)).
    """

    def __init__(
        self,
        replies: Mapping[tuple[str, ...], Reply] | None = None,
        *,
        host: str = "recorded",
        default: Result | None = None,
        files: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(host)
        self.replies: dict[tuple[str, ...], Reply] = dict(replies or {})
        self.default = default
        self.commands: list[Command] = []
        self.files: dict[str, tuple[str, int]] = {p: (c, 0o644) for p, c in (files or {}).items()}

    def reply(
        self, argv: Sequence[str], stdout: str = "", exit_code: int = 0, stderr: str = ""
    ) -> None:
        """Script one reply."""
        self.replies[tuple(argv)] = Result(exit_code, stdout, stderr)

    @property
    def argvs(self) -> list[tuple[str, ...]]:
        """The argv of every command run, in order."""
        return [c.argv for c in self.commands]

    async def run(self, cmd: Command | Sequence[str], *, check: bool = True) -> Result:
        from kube6.execute.command import as_command

        command = as_command(cmd)
        self.commands.append(command)
        return await super().run(command, check=check)

    async def _exec(
        self, argv: tuple[str, ...], stdin: str | None, timeout: float | None
    ) -> Result:
        reply = self.replies.get(argv)
        if reply is None:
            if self.default is None:
                raise AssertionError(
                    f"RecordingExecutor({self.host}): no reply scripted for {argv!r}"
                )
            return self.default
        if callable(reply):
            return reply(Command(argv, stdin=stdin, timeout=timeout))
        return reply

    async def put(self, path: str, content: str, mode: int = 0o644) -> None:
        self.commands.append(Command(("kube6-put", path, f"{mode:o}")))
        self.files[path] = (content, mode)

    async def get(self, path: str) -> str | None:
        self.commands.append(Command(("kube6-get", path)))
        entry = self.files.get(path)
        return entry[0] if entry is not None else None
