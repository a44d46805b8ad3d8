"""pipette.Error and the diagnostics pipette.check returns."""
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Diagnostic:
    """One message of the compiler, located in the script."""

    severity: str
    message: str
    file: Optional[str] = None
    line: Optional[int] = None
    column: Optional[int] = None
    hints: List[str] = field(default_factory=list)
    notes: List[dict] = field(default_factory=list)

    @property
    def hint(self):
        """The first hint ("did you mean 'steps'?"), or None."""
        return self.hints[0] if self.hints else None

    def __str__(self):
        where = f"{self.file}:{self.line}:{self.column}: " if self.line else (f"{self.file}: " if self.file else "")
        text = f"{where}{self.severity}: {self.message}"
        for h in self.hints:
            text += f"\n  hint: {h}"
        for n in self.notes:
            at = f"{n.get('file')}:{n.get('line')}:{n.get('column')}: " if n.get("line") else ""
            text += f"\n  note: {at}{n.get('message')}"
        return text

    @classmethod
    def from_dict(cls, d):
        return cls(severity=d["severity"], message=d["message"], file=d.get("file"), line=d.get("line"),
                   column=d.get("column"), hints=list(d.get("hints", [])), notes=list(d.get("notes", [])))


class Error(Exception):
    """What went wrong, and where: the script's file, line and column, and the
    node (its id and op) when a node failed. `diagnostics` holds the
    compiler's messages; `result` what a failed run did compute."""

    def __init__(self, message, *, file=None, line=None, column=None, node=None, op=None, diagnostics=None,
                 result=None, hints=None):
        super().__init__(message)
        self.message = message
        self.file, self.line, self.column = file, line, column
        self.node, self.op = node, op
        self.diagnostics = diagnostics or []
        self.hints = hints or []
        self.result = result

    def __str__(self):
        text = self.message
        for h in self.hints:
            text += f"\n  hint: {h}"
        return text
