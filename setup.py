"""Package layout: each service folder is the root of one import package, and `shared/`
is the `relance` package. Sub-packages are found here so a regular (non-editable) install
carries all of them, with the Alembic migrations as package data."""

from pathlib import Path

from setuptools import setup

ROOTS = {
    "relance": "shared",
    "relance_dossier": "services/dossier",
    "relance_workflow": "services/workflow",
    "relance_notifier": "services/notifier",
    "relance_gateway": "services/transfer-gateway",
    "relance_agency_simulator": "services/agency-simulator",
    "relance_console": "services/console/src/relance_console",
}


def _packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        for init in sorted(Path(folder).rglob("__init__.py")):
            found.append(".".join([name, *init.parent.relative_to(folder).parts]))
    return found


setup(
    package_dir=ROOTS,
    packages=_packages(),
    package_data={
        "relance_dossier": ["migrations/*.py", "migrations/*.mako", "migrations/versions/*.py"],
        "relance_console": ["templates/*.html", "templates/*/*.html", "static/*", "locale/*/LC_MESSAGES/*"],
    },
)
