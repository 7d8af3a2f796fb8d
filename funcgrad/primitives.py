"""``python -m funcgrad.primitives``: every primitive and the rules it has.

Columns: vjp, jvp and batch rules (``zero`` for primitives declared to have a
zero derivative), the backends whose lowering is the shared ``xp``
implementation or a specific override, and whether the property-test spec
table (tests/specs, present in a source checkout) covers the primitive.
"""
from __future__ import annotations

import sys

from . import prims  # noqa: F401 - registers every primitive
from .core import primitives


def _spec_coverage():
    try:
        from tests.specs import all_specs
    except Exception:  # not a source checkout, or hypothesis missing
        return None
    return {s.prim.name for s in all_specs()}


def rows():
    """One dict per primitive: name, vjp, jvp, batch, backends, spec."""
    specs = _spec_coverage()
    out = []
    for name, p in sorted(primitives().items()):
        zero = "zero" if p.nondiff else None
        out.append({
            "primitive": name,
            "vjp": zero or ("yes" if p.vjp else "MISSING"),
            "jvp": zero or ("yes" if p.jvp else "MISSING"),
            "batch": "yes" if p.batch else "MISSING",
            "backends": "numpy, cupy" + (" (override)" if p.impls else ""),
            "spec": "?" if specs is None else ("yes" if name in specs else "MISSING"),
        })
    return out


def report(file=None):
    """Print the coverage table (markdown) and a summary line."""
    file = file or sys.stdout
    rs = rows()
    cols = ["primitive", "vjp", "jvp", "batch", "backends", "spec"]
    print("| " + " | ".join(cols) + " |", file=file)
    print("|" + "---|" * len(cols), file=file)
    for r in rs:
        print("| " + " | ".join(r[c] for c in cols) + " |", file=file)
    missing = [r["primitive"] for r in rs if "MISSING" in r.values()]
    print(f"\n{len(rs)} primitives; {len(rs) - len(missing)} with every rule and a spec"
          + (f"; incomplete: {', '.join(missing)}" if missing else ""), file=file)
    return rs


if __name__ == "__main__":
    report()
