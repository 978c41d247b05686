"""Builds what pyproject.toml cannot say: the message catalogues (.po) compiled to .mo.

Compiled with Babel whenever the package is built or installed, editable installs included,
so the .mo files are never committed and never stale (projections/messages.py reads them).
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in Path("projections/locale").glob("*/LC_MESSAGES/*.po"):
            # An editable install reads the sources: compile beside them; a wheel gets its own copy.
            for root in ([Path(".")] if self.editable_mode else [Path(self.build_lib)]):
                mo = root / po.with_suffix(".mo")
                mo.parent.mkdir(parents=True, exist_ok=True)
                with po.open("rb") as source:
                    catalogue = read_po(source)
                with mo.open("wb") as target:
                    write_mo(target, catalogue, use_fuzzy=False)


setup(cmdclass={"build_py": BuildWithCatalogues})
