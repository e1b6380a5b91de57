"""A support manager edits policy files by hand: mistakes must say where and why."""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from contracts.policy import PolicyFileError, load_policies, load_policy, parse_policy, parse_span
from contracts.policy.cli import main as policy_check

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"

MINIMAL = """
id: acme
name: Acme support
vendor: Acme
case_prefix: ACM
calendars:
  office:
    time_zone: America/Bogota
    hours:
      mon-fri: ["08:00-17:00"]
business_calendar: office
priorities:
  - id: high
    name: High
    targets:
      resolution: {within: 8h}
ticket_types:
  - {id: support, name: Support}
"""


def broken(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new)


def problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text, origin="acme.yaml")
    assert str(caught.value).startswith("acme.yaml: ")
    return caught.value.problems


def test_the_minimal_policy_loads() -> None:
    policy = parse_policy(MINIMAL)
    assert policy.priority("high").targets["resolution"].within.fixed == timedelta(hours=8)


@pytest.mark.parametrize(
    ("old", "new", "where", "reason"),
    [
        ("within: 8h", "within: 8x", "priorities[0].targets.resolution.within", "not a duration"),
        ("America/Bogota", "America/Bogata", "calendars.office.time_zone", "IANA time zone"),
        ('"08:00-17:00"', '"17:00-08:00"', "calendars.office.hours.mon-fri[0]", "ends before"),
        ('"08:00-17:00"', '"08:00-25:00"', "calendars.office.hours.mon-fri[0]", "impossible"),
        ("mon-fri:", "monday-fri:", "calendars.office.hours", "not a weekday"),
        (
            "business_calendar: office",
            "business_calendar: oficina",
            "business_calendar",
            "unknown calendar 'oficina'",
        ),
        ("case_prefix: ACM", "case_prefx: ACM", "case_prefx", "not a known setting"),
        ("case_prefix: ACM", "", "case_prefix", "required"),
        ("within: 8h", "within: 3d", "priorities[0].targets.resolution", "'3bd'"),
        (
            "within: 8h}",
            "within: 3bd, clock: calendar}",
            "priorities[0].targets.resolution",
            "business clock",
        ),
    ],
)
def test_a_broken_file_names_the_field_and_the_reason(
    old: str, new: str, where: str, reason: str
) -> None:
    problems = problems_of(broken(old, new))
    assert any(p.startswith(f"{where}: ") and reason in p for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    text = broken("within: 8h", "within: soon").replace("America/Bogota", "Mars/Olympus")
    assert len(problems_of(text)) == 2


def test_broken_settings_and_broken_references_are_reported_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's example: a bad duration and an unknown calendar in one run of policy-check.

    pydantic checks cross-references only once every setting is valid, so without setting the
    broken ones aside the second problem would appear only after the first was fixed.
    """
    text = broken("within: 8h", "within: 3x").replace(
        "business_calendar: office", "business_calendar: oficina"
    )
    assert problems_of(text) == [
        "priorities[0].targets.resolution.within: '3x' is not a duration; write e.g. '15m', "
        "'8h', '1h30m', '7d' (days of 24 h) or '10bd' (business days)",
        "business_calendar: unknown calendar 'oficina' (known: office)",
    ]
    bad = tmp_path / "acme.yaml"
    bad.write_text(text)
    assert policy_check([str(bad)]) == 1
    err = capsys.readouterr().err
    assert "is not a duration" in err and "unknown calendar 'oficina'" in err


def test_setting_aside_a_broken_setting_never_invents_a_reference_problem() -> None:
    """A broken calendar is set aside to reach the reference checks; references to that very
    calendar are then not reported as unknown (the real problem is already listed)."""
    text = (
        broken("America/Bogota", "Mars/Olympus")
        .replace("resolution: {within: 8h}", "resolution: {within: 8h, calendar: office}")
        .replace(
            "business_calendar:",
            "  always: {time_zone: UTC, always_open: true}\nbusiness_calendar:",
        )
    )
    assert [p.split(":")[0] for p in problems_of(text)] == ["calendars.office.time_zone"]
    intake = "email_intake: {ticket_type: nope, priority: high}\nticket_types:"
    assert [p.split(":")[0] for p in problems_of(text.replace("ticket_types:", intake))] == [
        "calendars.office.time_zone",
        "email_intake.ticket_type",
    ]


def test_invalid_yaml_says_line_and_column() -> None:
    (problem,) = problems_of(MINIMAL.replace("ticket_types:", "ticket_types: [oops"))
    assert problem.startswith("line ") and "not valid YAML" in problem


def test_unknown_events_and_groups_in_routing_are_refused() -> None:
    text = MINIMAL + textwrap.dedent(
        """
        notifications:
          supervisors: [nobody]
          routes:
            - {events: [ticket.exploded], notify: [customer], via: [email]}
        """
    )
    problems = problems_of(text)
    assert any("unknown event 'ticket.exploded'" in p for p in problems)


def test_escalation_levels_must_be_consecutive_and_timed() -> None:
    text = MINIMAL + textwrap.dedent(
        """
        escalation:
          levels:
            - {level: 1, name: Help desk}
            - {level: 3, name: Specialists, after: {within: 4h}}
        """
    )
    assert any("numbered 1, 2, 3" in p for p in problems_of(text))


def test_unknown_holiday_country_is_refused() -> None:
    text = MINIMAL.replace(
        '      mon-fri: ["08:00-17:00"]',
        '      mon-fri: ["08:00-17:00"]\n    holidays: {country: XX}',
    )
    assert any("no official holidays are known for country 'XX'" in p for p in problems_of(text))


def test_a_folder_reports_every_broken_file_and_duplicate_ids(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MINIMAL)
    (tmp_path / "b.yaml").write_text(MINIMAL)
    (tmp_path / "c.yaml").write_text(broken("within: 8h", "within: never"))
    with pytest.raises(PolicyFileError) as caught:
        load_policies(tmp_path)
    problems = caught.value.problems
    # the same id in two files is two versions of one policy: here both say version 1
    assert any("b.yaml: version 1 of policy 'acme' is already in a.yaml" in p for p in problems)
    assert any("c.yaml: priorities[0].targets.resolution.within" in p for p in problems)


def test_the_check_command_prints_errors_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(broken("within: 8h", "within: 8x"))
    assert policy_check([str(bad), str(POLICIES / "000-bitam.yaml")]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "bad.yaml" in err and "is not a duration" in err
    assert "000-bitam.yaml: ok" in out


def test_a_missing_file_is_reported_plainly(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot be read"):
        load_policy(tmp_path / "missing.yaml")


@pytest.mark.parametrize("file", sorted(POLICIES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_policies_validate_against_the_published_json_schema(file: Path) -> None:
    # Editors use the published schema for completion and linting: it must accept them.
    schema = json.loads((REPO / "contracts/schema/support-policy.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(
        json.loads(json.dumps(yaml.safe_load(file.read_text()), default=str))
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(minutes=90)),
        ("9.5h", timedelta(hours=9, minutes=30)),
        ("7d", timedelta(days=7)),
    ],
)
def test_durations_read_as_written(text: str, expected: timedelta) -> None:
    assert parse_span(text).fixed == expected


def test_business_days_take_their_length_from_the_calendar() -> None:
    assert parse_span("10bd").resolve(timedelta(hours=9.5)) == timedelta(hours=95)
    with pytest.raises(ValueError, match="longer than zero"):
        parse_span("0m")


def test_the_readme_example_policy_is_valid() -> None:
    # The README teaches the format; its example must stay a working policy.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = readme.split("A short policy, annotated:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    policy = parse_policy(example, origin="README.md")
    assert policy.ticket_type("nueva-funcionalidad").sla_exempt
    assert policy.business_day("office") == timedelta(hours=10.5)
