"""State is typed: templates and code compare against the enums, whose words stay the
ones stored and shown."""

import re
from pathlib import Path

from django.template import Context, Template

from portal.backends.base import GroupStatus, PreviewStatus, RestorePhase, ServerGroup
from restore_wizard.models import RestoreOperation

ROOT = Path(__file__).resolve().parents[2]
LITERAL_STATE = re.compile(r"\.(status|phase)\s*(==|!=)\s*['\"]")


def test_no_template_compares_a_state_to_a_string_literal():
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(ROOT.glob("**/templates/**/*.html"))
        if ".venv" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LITERAL_STATE.search(line)
    ]
    assert found == []


def test_templates_see_the_enums_and_compare_against_them(rf):
    from portal.context_processors import states
    from restore_wizard.context_processors import states as wizard_states

    context = Context({**states(rf.get("/")), **wizard_states(rf.get("/"))})
    context.update({"preview": {"status": "Ready"}, "operation": {"status": "cancelling"}})
    html = Template(
        "{% if preview.status == PreviewStatus.READY %}ready{% endif %}"
        "{% if operation.status == OperationStatus.CANCELLING %} cancelling{% endif %}"
        "{% if preview.status == PreviewStatus.FAILED %} failed{% endif %}"
    ).render(context)
    assert html == "ready cancelling"


def test_the_words_stay_the_stored_and_shown_ones():
    # Rows and catalogs written before the enums hold these words.
    assert [str(status) for status in PreviewStatus] == ["Starting", "Ready", "Failed"]
    assert GroupStatus.READY == "Ready" and f"{GroupStatus.RESTORING}" == "Restoring"
    assert [str(phase) for phase in RestorePhase] == ["sealing", "restoring", "backing up", "ready"]
    assert set(RestoreOperation.Status) >= {"queued", "running", "succeeded", "failed"}


def test_a_group_is_ready_by_its_status_word_whoever_reported_it():
    group = ServerGroup(
        backend="x",
        cloud="X",
        id="g",
        name="g",
        status="Ready",
        subscription="s",
        resource_group="r",
        location="l",
    )
    assert group.is_ready
