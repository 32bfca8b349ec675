"""scripts/check-imports over tiny trees written here: what it refuses, and where it says."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check-imports"


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in ("localcloud", "portal", "portal/backends", "restore_wizard", "drills"):
        init = root / package / "__init__.py"
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text("")


def check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_tree_that_imports_one_way_passes(tmp_path):
    write_tree(
        tmp_path,
        {
            "localcloud/engine.py": "import os\nfrom . import names\n",
            "localcloud/names.py": "import re\n",
            "portal/backends/base.py": "from portal import instants\n",
            "portal/instants.py": "from datetime import UTC\n",
            "portal/backends/local.py": "from localcloud import engine\nfrom .base import X\n",
            "portal/views.py": "from django.http import HttpResponse\nfrom .backends import base\n",
            "portal/selectors.py": "from .backends import base\n",
            "portal/urls.py": "from . import views\n",
            "restore_wizard/views.py": "from portal import selectors\nimport portal.backends\n",
            "drills/services.py": "from restore_wizard import models\n",
            "restore_wizard/models.py": "",
        },
    )
    result = check(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "import one way" in result.stdout


def test_a_circle_is_caught_with_every_file_and_line(tmp_path):
    write_tree(
        tmp_path,
        {
            "localcloud/engine.py": "import os\n\nfrom . import restore\n",
            "localcloud/restore.py": "from .engine import Engine\n",
        },
    )
    result = check(tmp_path)
    assert result.returncode == 1
    assert (
        "import circle: localcloud.engine -> localcloud.restore -> localcloud.engine "
        "(localcloud/engine.py:3, localcloud/restore.py:1)"
    ) in result.stdout


def test_a_circle_hidden_in_a_function_or_behind_type_checking_still_counts(tmp_path):
    write_tree(
        tmp_path,
        {
            "restore_wizard/services.py": "def start():\n    from .tasks import run\n",
            "restore_wizard/tasks.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import services\n"
            ),
        },
    )
    result = check(tmp_path)
    assert result.returncode == 1
    assert "restore_wizard/services.py:2: import circle" in result.stdout
    assert (
        "restore_wizard/services.py:2: restore_wizard.services imports restore_wizard.tasks "
        "inside a function: a hidden import"
    ) in result.stdout


def test_imports_against_the_direction_are_caught(tmp_path):
    write_tree(
        tmp_path,
        {
            "localcloud/engine.py": "from portal.backends.base import NAME_RULE\n",
            "localcloud/agent.py": "import django\n",
            "portal/backends/base.py": "from localcloud.names import NAME_RULE\n",
            "portal/views.py": "import restore_wizard.views\n",
            "portal/cli.py": "from localcloud import engine\n",
            "portal/backends/local.py": "from portal.views import page\n",
            "restore_wizard/views.py": "from drills import services\nimport azure.identity\n",
            "localcloud/names.py": "",
            "drills/services.py": "",
        },
    )
    result = check(tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    for where, wrong in [
        ("localcloud/engine.py:1", "localcloud.engine imports portal.backends.base"),
        ("localcloud/agent.py:1", "localcloud.agent imports django"),
        ("portal/backends/base.py:1", "portal.backends.base imports localcloud.names"),
        ("portal/views.py:1", "portal.views imports restore_wizard.views"),
        ("portal/cli.py:1", "portal.cli imports localcloud.engine"),
        ("portal/backends/local.py:1", "portal.backends.local imports portal.views"),
        ("restore_wizard/views.py:1", "restore_wizard.views imports drills.services"),
        ("restore_wizard/views.py:2", "restore_wizard.views imports azure.identity"),
    ]:
        assert any(line.startswith(f"{where}: {wrong}") for line in lines), (where, lines)


def test_an_allowed_late_import_is_not_flagged(tmp_path):
    write_tree(
        tmp_path,
        {
            "portal/apps.py": "class C:\n    def ready(self):\n        from . import checks\n",
            "portal/checks.py": "",
        },
    )
    result = check(tmp_path)
    assert result.returncode == 0, result.stdout


def test_a_view_module_imported_outside_urls_and_apps_is_caught(tmp_path):
    write_tree(
        tmp_path,
        {
            "portal/views.py": "",
            "portal/urls.py": "from . import views\n",
            "restore_wizard/views/__init__.py": "",
            "restore_wizard/views/steps.py": "from .guards import guard\n",
            "restore_wizard/views/guards.py": "",
            "restore_wizard/urls.py": "from .views import steps\n",
            "restore_wizard/services.py": "from portal.views import context\n",
        },
    )
    result = check(tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "restore_wizard/services.py:1: restore_wizard.services imports the view module "
        "portal.views: views are imported by URL confs and apps only (share a selector, a "
        "service or a guard instead)"
    ]
