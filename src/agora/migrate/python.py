"""Rewrite a Python module's uses of ``metta.cogworks.curriculum`` with libcst.

A concrete syntax tree keeps every comment, blank line and paren of the file; only the
import statements, the attribute uses of imported old modules, renamed names and
dotted-path strings change.

Two passes over the same tree: the first finds which names of each imported old module are
used (``cc.LearningProgressConfig``) and the references of renamed imports; the second
rewrites. An imported old module becomes the agora module holding most of the names used
through it, and other names are reached through their own ``import``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider

from agora.migrate.names import NO_EQUIVALENT, OLD_MODULES, OLD_PACKAGE, Target, new_path, target

__all__ = ["Problem", "rewrite_python"]

_DOTTED = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+")


@dataclass(frozen=True)
class Problem:
    """Something at ``line`` the codemod left as it was, and why."""

    line: int
    message: str


def rewrite_python(source: str) -> tuple[str, list[Problem]]:
    """The migrated source and what could not be migrated (raises ``libcst.ParserSyntaxError``)."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    uses = _Uses()
    wrapper.visit(uses)  # the imports first: a function above an import may use its names
    uses.imports_done = True
    wrapper.visit(uses)
    rewriter = _Rewriter(uses)
    module = wrapper.visit(rewriter)
    problems = sorted(set(uses.problems + rewriter.problems), key=lambda p: p.line)
    return module.code, problems


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr.value}"
    return None


def _name(dotted: str) -> cst.Name | cst.Attribute:
    parts = dotted.split(".")
    node: cst.Name | cst.Attribute = cst.Name(parts[0])
    for part in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def _is_old(module: str) -> bool:
    return module == OLD_PACKAGE or module.startswith(f"{OLD_PACKAGE}.")


def _why_not(name: str, module: str) -> str:
    reason = NO_EQUIVALENT.get(name, f"not a public name of {module}")
    return f"{module}.{name} has no agora equivalent ({reason})"


@dataclass
class _Binding:
    """A local name bound to an old module, and the old names used through it."""

    module: str
    used: Counter[str] = field(default_factory=Counter)

    def primary(self) -> str:
        modules = Counter({t.module: n for name, n in self.used.items() if (t := target(name)) is not None})
        return modules.most_common(1)[0][0] if modules else OLD_MODULES[self.module][0]


class _Uses(cst.CSTVisitor):
    """Pass 1: module bindings, the names used through them, references of renamed imports."""

    METADATA_DEPENDENCIES = (PositionProvider, ScopeProvider)

    def __init__(self) -> None:
        self.bindings: dict[str, _Binding] = {}  # local alias -> old module
        self.dotted: dict[str, _Binding] = {}  # unaliased `import metta.cogworks.curriculum.x`
        self.renames: dict[cst.Name, str] = {}  # a reference of a renamed import -> new name
        self.problems: list[Problem] = []
        self.imports_done = False

    def visit_Import(self, node: cst.Import) -> None:
        if self.imports_done:
            return
        for alias in node.names:
            module = _dotted(alias.name)
            if module is None or not _is_old(module):
                continue
            if module not in OLD_MODULES:
                self._problem(node, f"{module} is not a module agora knows")
            elif alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.bindings[alias.asname.name.value] = _Binding(module)
            else:
                for old in OLD_MODULES:  # `import a.b.c` also makes a.b usable
                    if module == old or module.startswith(f"{old}."):
                        self.dotted.setdefault(old, _Binding(old))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = _dotted(node.module) if node.module is not None and not node.relative else None
        if self.imports_done or module is None or isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            name = alias.evaluated_name
            local = alias.evaluated_alias or name
            if f"{module}.{name}" in OLD_MODULES:
                self.bindings[local] = _Binding(f"{module}.{name}")
            elif _is_old(module) and alias.asname is None and (found := target(name)) and found.name != name:
                self._collect_renames(node, name, found.name)

    def _collect_renames(self, node: cst.ImportFrom, old: str, new: str) -> None:
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return
        for assignment in scope.assignments[old]:
            if getattr(assignment, "node", None) is node:
                for ref in assignment.references:
                    if isinstance(ref.node, cst.Name):
                        self.renames[ref.node] = new

    def visit_Attribute(self, node: cst.Attribute) -> None:
        resolved = self.lookup(node) if self.imports_done else None
        if resolved is None:
            return
        binding, name = resolved
        if target(name) is None and f"{binding.module}.{name}" not in OLD_MODULES:
            self._problem(node, _why_not(name, binding.module))
        else:
            binding.used[name] += 1

    def lookup(self, node: cst.Attribute) -> tuple[_Binding, str] | None:
        """The binding and old name that ``node`` (``alias.Name`` or a full path) refers to."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        head, _, name = dotted.rpartition(".")
        binding = self.bindings.get(head) if "." not in head else None
        return (binding, name) if binding is not None else self._resolve_dotted(head, name)

    def _resolve_dotted(self, head: str, name: str) -> tuple[_Binding, str] | None:
        if head in self.dotted:
            return self.dotted[head], name
        first, _, rest = head.partition(".")
        binding = self.bindings.get(first)
        if binding is not None and f"{binding.module}.{rest}" in OLD_MODULES:  # cc.task_generator.Span
            sub = self.bindings.setdefault(f"{first}.{rest}", _Binding(f"{binding.module}.{rest}"))
            return sub, name
        return None

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = node.evaluated_value
        if not self.imports_done or not isinstance(value, str) or not _is_old(value):
            return
        if not _DOTTED.fullmatch(value):
            return
        if value in OLD_MODULES:
            self._problem(node, f"string {value!r} names an old module (a dynamic import?): not rewritten")
        elif new_path(value) is None:
            self._problem(node, f"string {value!r} names nothing agora has: not rewritten")

    def _problem(self, node: cst.CSTNode, message: str) -> None:
        self.problems.append(Problem(self.get_metadata(PositionProvider, node).start.line, message))


class _Rewriter(cst.CSTTransformer):
    """Pass 2: rewrite the imports, attribute uses, renamed references and path strings."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, uses: _Uses) -> None:
        super().__init__()
        self.uses = uses
        self.problems: list[Problem] = []

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        body: list[cst.BaseSmallStatement] = []
        changed = False
        for original, statement in zip(original_node.body, updated_node.body, strict=True):
            if isinstance(statement, cst.Import):
                new = self._import(statement)
            elif isinstance(statement, cst.ImportFrom):
                new = self._import_from(original, statement)
            else:
                new = [statement]
            changed = changed or new != [statement]
            body.extend(new)
        if not changed:
            return updated_node
        if len(body) == len(updated_node.body):
            return updated_node.with_changes(body=body)
        lines = [
            cst.SimpleStatementLine(
                body=[statement.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)],
                leading_lines=updated_node.leading_lines if i == 0 else (),
                trailing_whitespace=updated_node.trailing_whitespace if i == 0 else cst.TrailingWhitespace(),
            )
            for i, statement in enumerate(body)
        ]
        return cst.FlattenSentinel(lines)

    def _import(self, node: cst.Import) -> list[cst.BaseSmallStatement]:
        kept: list[cst.ImportAlias] = []
        added: list[cst.BaseSmallStatement] = []
        for alias in node.names:
            module = _dotted(alias.name)
            if module is None or module not in OLD_MODULES:
                kept.append(alias)
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                added += self._module_binding(self.uses.bindings[alias.asname.name.value], alias.asname)
            else:
                modules = {
                    found.module
                    for old, binding in self.uses.dotted.items()
                    if module == old or module.startswith(f"{old}.")
                    for name in binding.used
                    if (found := target(name)) is not None
                }
                for agora_module in sorted(modules or {OLD_MODULES[module][0]}):
                    added.append(cst.Import(names=[cst.ImportAlias(name=_name(agora_module))]))
        if not added:
            return [node]
        if not kept:
            return added
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return [node.with_changes(names=kept), *added]

    def _module_binding(self, binding: _Binding, asname: cst.AsName) -> list[cst.BaseSmallStatement]:
        primary = binding.primary()
        statements: list[cst.BaseSmallStatement] = [
            cst.Import(names=[cst.ImportAlias(name=_name(primary), asname=asname)])
        ]
        local = asname.name.value if isinstance(asname.name, cst.Name) else ""
        used = [
            binding.used,
            *(b.used for key, b in self.uses.bindings.items() if key.startswith(f"{local}.")),
        ]
        others = sorted(
            {t.module for names in used for name in names if (t := target(name)) and t.module != primary}
        )
        statements += [cst.Import(names=[cst.ImportAlias(name=_name(m))]) for m in others]
        return statements

    def _import_from(
        self, original: cst.BaseSmallStatement, node: cst.ImportFrom
    ) -> list[cst.BaseSmallStatement]:
        module = _dotted(node.module) if node.module is not None and not node.relative else None
        if module is None:
            return [node]
        if isinstance(node.names, cst.ImportStar):
            if _is_old(module):
                self._problem(original, f"star import from {module}: import the names you use from agora")
            return [node]
        groups: dict[str, list[cst.ImportAlias]] = {}
        modules: list[cst.BaseSmallStatement] = []
        left: list[cst.ImportAlias] = []
        for alias in node.names:
            name = alias.evaluated_name
            local = alias.evaluated_alias or name
            if f"{module}.{name}" in OLD_MODULES:  # `from metta.cogworks import curriculum`
                asname = alias.asname or cst.AsName(name=cst.Name(name))
                modules += self._module_binding(self.uses.bindings[local], asname)
            elif not _is_old(module):
                left.append(alias)
            elif (found := target(name)) is None:
                self._problem(original, _why_not(name, module))
                left.append(alias)
            else:
                new = alias.with_changes(name=cst.Name(found.name)) if found.name != name else alias
                groups.setdefault(found.module, []).append(new)
        if not groups and not modules:
            return [node]
        statements: list[cst.BaseSmallStatement] = []
        for agora_module, aliases in [(module, left), *groups.items()]:
            if aliases:
                statements.append(self._from(node, agora_module, aliases))
        return statements + modules

    @staticmethod
    def _from(node: cst.ImportFrom, module: str, aliases: Sequence[cst.ImportAlias]) -> cst.ImportFrom:
        names = list(aliases)
        last, end = names[-1].comma, node.names[-1].comma if isinstance(node.names, Sequence) else None
        if node.rpar is None or not isinstance(last, cst.Comma):  # unparenthesised: no trailing comma
            names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        elif isinstance(end, cst.Comma) and last is not end:
            # The closing paren keeps the indentation it had after the original last name.
            after, closing = last.whitespace_after, end.whitespace_after
            if isinstance(after, cst.ParenthesizedWhitespace) and isinstance(
                closing, cst.ParenthesizedWhitespace
            ):
                comma = last.with_changes(whitespace_after=after.with_changes(last_line=closing.last_line))
                names[-1] = names[-1].with_changes(comma=comma)
        return node.with_changes(module=_name(module), names=names)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        resolved = self.uses.lookup(original_node)
        if resolved is None:
            return updated_node
        binding, name = resolved
        found: Target | None = target(name)
        if found is None:
            return updated_node
        alias = _dotted(original_node.value) or "."
        if "." not in alias and alias in self.uses.bindings and found.module == binding.primary():
            if found.name == name:
                return updated_node
            return updated_node.with_changes(attr=cst.Name(found.name))
        return _name(f"{found.module}.{found.name}").with_changes(
            lpar=updated_node.lpar, rpar=updated_node.rpar
        )

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.uses.renames.get(original_node)
        return updated_node if new is None else updated_node.with_changes(value=new)

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        value = original_node.evaluated_value
        if not isinstance(value, str) or not _is_old(value) or not _DOTTED.fullmatch(value):
            return updated_node
        new = new_path(value)
        if new is None:
            return updated_node
        quote = original_node.quote
        return updated_node.with_changes(value=f"{original_node.prefix}{quote}{new}{quote}")

    def _problem(self, node: cst.CSTNode, message: str) -> None:
        self.problems.append(Problem(self.get_metadata(PositionProvider, node).start.line, message))
