"""Each seed policy, loaded from its example file, keeps the promises its document makes."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from contracts.policy import SupportPolicy, load_policies
from contracts.policy.models import ShareOfTarget, Target
from contracts.vocabulary import ClockKind, ClockStart, Metric

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
POLICY_FILES = sorted(POLICIES.glob("*.yaml"))
# The policy files say "Transcribes ../shared/seeds/...": the Spanish originals live beside the
# repository, not in it.
SEEDS = REPO.parent / "shared"
MEXICO = ZoneInfo("America/Mexico_City")
GUATEMALA = ZoneInfo("America/Guatemala")
BOGOTA = ZoneInfo("America/Bogota")
FIRST, RESOLUTION, DECISION = Metric.FIRST_RESPONSE, Metric.RESOLUTION, Metric.DECISION


@pytest.fixture(scope="module")
def policies() -> dict[str, SupportPolicy]:
    return load_policies(POLICIES)


def test_every_seed_document_has_its_policy_file(policies: dict[str, SupportPolicy]) -> None:
    seeds = {p.source for p in policies.values()}
    assert len(policies) == 5
    assert all(s and s.startswith("seeds/") for s in seeds)


class TestBitam000:
    @pytest.fixture
    def bitam(self, policies: dict[str, SupportPolicy]) -> SupportPolicy:
        return policies["bitam"]

    def test_urgent_ticket_registered_friday_1730_gets_first_response_by_monday_0900(
        self, bitam: SupportPolicy
    ) -> None:
        friday = datetime(2026, 11, 27, 17, 30, tzinfo=MEXICO)
        due = bitam.deadline(FIRST, priority="urgente", ticket_type="soporte", start=friday)
        assert due == datetime(2026, 11, 30, 9, tzinfo=MEXICO)

    def test_revolution_day_monday_is_skipped(self, bitam: SupportPolicy) -> None:
        friday = datetime(2026, 11, 13, 17, 30, tzinfo=MEXICO)
        due = bitam.deadline(FIRST, priority="urgente", ticket_type="soporte", start=friday)
        assert due == datetime(2026, 11, 17, 9, tzinfo=MEXICO)

    def test_media_resolution_is_24_business_hours(self, bitam: SupportPolicy) -> None:
        monday = datetime(2026, 11, 23, 8, 30, tzinfo=MEXICO)
        due = bitam.deadline(RESOLUTION, priority="media", ticket_type="error", start=monday)
        assert due == datetime(2026, 11, 25, 13, 30, tzinfo=MEXICO)

    def test_new_feature_requests_have_no_sla_but_a_10_business_day_viability_decision(
        self, bitam: SupportPolicy
    ) -> None:
        monday = datetime(2026, 11, 23, 10, tzinfo=MEXICO)
        kind = "nuevo-requerimiento"
        for metric in (FIRST, RESOLUTION):
            assert bitam.deadline(metric, priority="alta", ticket_type=kind, start=monday) is None
        decision = bitam.deadline(DECISION, priority="alta", ticket_type=kind, start=monday)
        assert decision == datetime(2026, 12, 7, 10, tzinfo=MEXICO)  # 10 business days later

    def test_abandoned_after_7_calendar_days_then_15_business_days_for_comments(
        self, bitam: SupportPolicy
    ) -> None:
        inactivity = bitam.abandonment.inactivity
        grace = bitam.abandonment.grace_after_resolution
        assert inactivity is not None and grace is not None
        asked = datetime(2026, 11, 27, 17, tzinfo=MEXICO)  # Friday, awaiting the customer
        resolved_at = bitam.due(inactivity, asked)
        assert resolved_at == datetime(2026, 12, 4, 17, tzinfo=MEXICO)  # weekends count
        closes_at = bitam.due(grace, resolved_at)
        # 15 days of 9.5 business hours; Christmas Day (a Friday) does not count.
        assert closes_at == datetime(2026, 12, 28, 17, tzinfo=MEXICO)
        assert bitam.calendar("oficina-mexico").between(resolved_at, closes_at) == timedelta(
            hours=15 * 9.5
        )

    def test_only_the_two_latest_versions_are_supported(self, bitam: SupportPolicy) -> None:
        assert bitam.supported_versions("ebavel") == ["6.5", "6.6"]

    def test_support_hours_per_country_are_derived_from_time_zones(
        self, bitam: SupportPolicy
    ) -> None:
        table = {
            row["country"]: row["hours"] for row in bitam.support_hours_table(date(2026, 11, 23))
        }
        assert table["México"]["mon"] == ["08:30-18:00"]
        assert table["Colombia"]["mon"] == ["09:30-19:00"]
        assert table["Argentina"]["fri"] == ["11:30-21:00"]
        assert table["Venezuela"]["wed"] == ["10:30-20:00"]
        # The seed's table says 10:30 for Brazil; Brasília time (UTC-3) makes it 11:30.
        assert table["Brasil"]["mon"] == ["11:30-21:00"]

    def test_a_resolved_ticket_stays_open_for_comments_and_closes_unconfirmed(
        self, bitam: SupportPolicy
    ) -> None:
        assert bitam.lifecycle.reopen_window is not None
        assert bitam.lifecycle.close_requires_confirmation
        assert bitam.lifecycle.auto_close_after == bitam.abandonment.grace_after_resolution


class TestIkhodi001:
    @pytest.fixture
    def ikhodi(self, policies: dict[str, SupportPolicy]) -> SupportPolicy:
        return policies["ikhodi"]

    def test_p1_registered_sunday_0200_is_answered_by_0215_the_same_night(
        self, ikhodi: SupportPolicy
    ) -> None:
        sunday = datetime(2026, 11, 22, 2, tzinfo=GUATEMALA)
        due = ikhodi.deadline(FIRST, priority="p1", ticket_type="problemas-basicos", start=sunday)
        assert due == datetime(2026, 11, 22, 2, 15, tzinfo=GUATEMALA)
        fix = ikhodi.deadline(
            RESOLUTION, priority="p1", ticket_type="problemas-basicos", start=sunday
        )
        assert fix == datetime(2026, 11, 22, 6, tzinfo=GUATEMALA)

    def test_p3_registered_sunday_0200_waits_for_mondays_opening(
        self, ikhodi: SupportPolicy
    ) -> None:
        sunday = datetime(2026, 11, 22, 2, tzinfo=GUATEMALA)
        due = ikhodi.deadline(FIRST, priority="p3", ticket_type="problemas-basicos", start=sunday)
        assert due == datetime(2026, 11, 23, 9, tzinfo=GUATEMALA)

    def test_p4_resolution_is_three_business_days_of_nine_hours(
        self, ikhodi: SupportPolicy
    ) -> None:
        monday = datetime(2026, 11, 23, 8, tzinfo=GUATEMALA)
        due = ikhodi.deadline(
            RESOLUTION, priority="p4", ticket_type="problemas-basicos", start=monday
        )
        assert due == datetime(2026, 11, 25, 17, tzinfo=GUATEMALA)

    def test_calendar_time_wherever_the_table_does_not_say_habil(
        self, ikhodi: SupportPolicy
    ) -> None:
        clocks = {
            (p.id, metric.value): t.clock
            for p in ikhodi.priorities
            for metric, t in p.targets.items()
        }
        assert clocks == {
            ("p1", "first_response"): ClockKind.CALENDAR,  # "15 minutos"
            ("p1", "resolution"): ClockKind.CALENDAR,  # "4 horas"
            ("p2", "first_response"): ClockKind.CALENDAR,  # "30 minutos"
            ("p2", "resolution"): ClockKind.BUSINESS,  # "8 horas hábiles"
            ("p3", "first_response"): ClockKind.BUSINESS,  # "1 hora hábil"
            ("p3", "resolution"): ClockKind.BUSINESS,  # "24 horas hábiles"
            ("p4", "first_response"): ClockKind.BUSINESS,  # "4 horas hábiles"
            ("p4", "resolution"): ClockKind.BUSINESS,  # "3 días hábiles"
        }

    def test_001_p2_first_response_is_30_calendar_minutes(self, ikhodi: SupportPolicy) -> None:
        # "Alto (P2) | ... | 30 minutos | 8 horas hábiles": only the resolution says "hábiles".
        kind = "problemas-basicos"
        friday = datetime(2026, 11, 27, 16, 50, tzinfo=GUATEMALA)  # 10 minutes before closing
        due = ikhodi.deadline(FIRST, priority="p2", ticket_type=kind, start=friday)
        assert due == datetime(2026, 11, 27, 17, 20, tzinfo=GUATEMALA)  # not Monday 08:20
        sunday = datetime(2026, 11, 29, 2, tzinfo=GUATEMALA)
        due = ikhodi.deadline(FIRST, priority="p2", ticket_type=kind, start=sunday)
        assert due == datetime(2026, 11, 29, 2, 30, tzinfo=GUATEMALA)
        christmas = datetime(2026, 12, 25, 10, tzinfo=GUATEMALA)  # a holiday in Guatemala
        due = ikhodi.deadline(FIRST, priority="p2", ticket_type=kind, start=christmas)
        assert due == datetime(2026, 12, 25, 10, 30, tzinfo=GUATEMALA)

    def test_001_p2_resolution_stays_8_business_hours(self, ikhodi: SupportPolicy) -> None:
        friday = datetime(2026, 11, 27, 16, 50, tzinfo=GUATEMALA)
        due = ikhodi.deadline(
            RESOLUTION, priority="p2", ticket_type="problemas-basicos", start=friday
        )
        # 10 minutes on Friday, then 7 h 50 min from Monday 08:00.
        assert due == datetime(2026, 11, 30, 15, 50, tzinfo=GUATEMALA)

    def test_out_of_scope_matches_the_document(self, ikhodi: SupportPolicy) -> None:
        assert {x.id for x in ikhodi.out_of_scope} == {
            "desarrollo-personalizado",
            "problemas-terceros",
            "conectividad-internet",
            "hardware",
            "danos-fisicos",
        }


class TestProditma002:
    @pytest.fixture
    def proditma(self, policies: dict[str, SupportPolicy]) -> SupportPolicy:
        return policies["proditma"]

    def test_three_escalation_levels_each_with_people_to_notify(
        self, proditma: SupportPolicy
    ) -> None:
        assert proditma.escalation is not None
        levels = proditma.escalation.levels
        assert [lv.level for lv in levels] == [1, 2, 3]
        assert all(lv.notify for lv in levels)
        assert proditma.escalation.etr_required

    def test_level_two_comes_after_half_the_resolution_time_level_three_4_business_hours_later(
        self, proditma: SupportPolicy
    ) -> None:
        second = proditma.escalation_delay(2, priority="alta", ticket_type="incidente")
        third = proditma.escalation_delay(3, priority="alta", ticket_type="incidente")
        assert second is not None and third is not None
        assert second[0] == timedelta(hours=4)  # half of 8 business hours
        assert third[0] == timedelta(hours=4)
        start = datetime(2026, 11, 27, 16, tzinfo=MEXICO)  # Friday 16:00, desk 09:00-18:00
        assert second[1].add(start, second[0]) == datetime(2026, 11, 30, 11, tzinfo=MEXICO)

    def test_the_customer_agrees_on_one_channel(self, proditma: SupportPolicy) -> None:
        channel = proditma.notifications.customer_channel
        assert channel.default.value == "email"
        assert {c.value for c in channel.allowed} == {"email", "whatsapp", "sms"}


class TestItac003:
    @pytest.fixture
    def itac(self, policies: dict[str, SupportPolicy]) -> SupportPolicy:
        return policies["itac"]

    @pytest.mark.parametrize(
        ("modality", "expected"),
        [
            ("24x7", datetime(2026, 11, 27, 20, tzinfo=BOGOTA)),
            ("8x5", datetime(2026, 11, 30, 10, tzinfo=BOGOTA)),
        ],
    )
    def test_important_ticket_friday_1600_is_answered_by_the_contracted_modality(
        self, itac: SupportPolicy, modality: str, expected: datetime
    ) -> None:
        friday = datetime(2026, 11, 27, 16, tzinfo=BOGOTA)
        due = itac.deadline(
            FIRST, priority="importante", ticket_type="incidente", start=friday, modality=modality
        )
        assert due == expected

    def test_critical_is_two_elapsed_hours_under_both_modalities(self, itac: SupportPolicy) -> None:
        friday = datetime(2026, 11, 27, 17, tzinfo=BOGOTA)
        for modality in ("24x7", "8x5"):
            due = itac.deadline(
                FIRST, priority="critico", ticket_type="incidente", start=friday, modality=modality
            )
            assert due == datetime(2026, 11, 27, 19, tzinfo=BOGOTA)

    def test_resolution_depends_on_diagnosis_so_there_is_no_target(
        self, itac: SupportPolicy
    ) -> None:
        friday = datetime(2026, 11, 27, 17, tzinfo=BOGOTA)
        assert (
            itac.deadline(RESOLUTION, priority="normal", ticket_type="incidente", start=friday)
            is None
        )

    def test_environment_versions_and_contacts_are_required(self, itac: SupportPolicy) -> None:
        assert itac.required_fields_for("incidente") == [
            "ambientes",
            "versiones-componentes",
            "contactos",
        ]


class TestBtw004:
    @pytest.fixture
    def btw(self, policies: dict[str, SupportPolicy]) -> SupportPolicy:
        return policies["btw"]

    def test_clocks_start_once_the_request_is_assigned(self, btw: SupportPolicy) -> None:
        assert btw.lifecycle.clock_starts is ClockStart.ASSIGNMENT

    def test_friday_closes_at_1700(self, btw: SupportPolicy) -> None:
        office = btw.calendar("oficina-colombia")
        assert office.is_open(datetime(2026, 11, 27, 16, 59, tzinfo=BOGOTA))
        assert not office.is_open(datetime(2026, 11, 27, 17, 0, tzinfo=BOGOTA))
        assert office.is_open(datetime(2026, 11, 26, 17, 30, tzinfo=BOGOTA))  # Thursday: 18:00
        friday_1630 = datetime(2026, 11, 27, 16, 30, tzinfo=BOGOTA)
        # One business hour from Friday 16:30: 30 min on Friday, then Monday from 07:30.
        assert office.add(friday_1630, timedelta(hours=1)) == datetime(
            2026, 11, 30, 8, tzinfo=BOGOTA
        )

    def test_p1_runs_24_7(self, btw: SupportPolicy) -> None:
        saturday = datetime(2026, 11, 28, 20, tzinfo=BOGOTA)
        due = btw.deadline(RESOLUTION, priority="p1", ticket_type="soporte", start=saturday)
        assert due == datetime(2026, 11, 29, 4, tzinfo=BOGOTA)

    def test_p2_skips_the_immaculate_conception_holiday(self, btw: SupportPolicy) -> None:
        monday = datetime(2026, 12, 7, 7, 30, tzinfo=BOGOTA)
        due = btw.deadline(RESOLUTION, priority="p2", ticket_type="soporte", start=monday)
        assert due is not None
        office = btw.calendar("oficina-colombia")
        assert not office.is_open(datetime(2026, 12, 8, 10, tzinfo=BOGOTA))  # Tuesday holiday
        assert office.between(monday, due) == timedelta(hours=72)
        assert due == datetime(2026, 12, 16, 17, tzinfo=BOGOTA)  # 10.5 h days, Friday 10 h

    @pytest.mark.parametrize(
        ("subcategory", "priority"),
        [
            ("error-500-dian", "p1"),
            ("error-firma-digital", "p1"),
            ("error-xml", "p2"),
            ("error-credenciales", "p2"),
            ("modificaciones-formato", "p3"),
            ("capacitacion-plataforma", "implementacion"),
        ],
    )
    def test_the_subcategory_sets_the_priority(
        self, btw: SupportPolicy, subcategory: str, priority: str
    ) -> None:
        assert btw.priority_for_subcategory(subcategory) == priority

    def test_intake_asks_for_nit_contact_and_evidence(self, btw: SupportPolicy) -> None:
        required = btw.required_fields_for("soporte")
        assert required == [
            "nit",
            "nombre-contacto",
            "correo-contacto",
            "telefono-contacto",
            "evidencia",
        ]
        assert set(btw.ticket_type("soporte").optional_fields) == {"numero-legal", "archivo-xml"}

    def test_the_fourth_unanswered_contact_attempt_closes_the_case(
        self, btw: SupportPolicy
    ) -> None:
        assert btw.abandonment.max_unanswered_contact_attempts == 4

    def test_the_p1_line_is_open_on_weekends_and_holidays_only(self, btw: SupportPolicy) -> None:
        line = btw.calendar("linea-p1")
        assert line.is_open(datetime(2026, 12, 8, 9, tzinfo=BOGOTA))  # Tuesday, a holiday
        assert line.is_open(datetime(2026, 11, 28, 9, tzinfo=BOGOTA))  # Saturday
        assert not line.is_open(datetime(2026, 12, 1, 9, tzinfo=BOGOTA))  # ordinary Tuesday
        assert not line.is_open(datetime(2026, 11, 28, 18, tzinfo=BOGOTA))  # after 17:00

    def test_implementation_requests_take_48_business_hours(self, btw: SupportPolicy) -> None:
        assert btw.ticket_type("implementacion").default_priority == "implementacion"
        target = btw.priority("implementacion").targets[RESOLUTION]
        assert btw.duration(target) == timedelta(hours=48)


# -- every target against its seed's words ------------------------------------------------------

BUSINESS, CALENDAR = ClockKind.BUSINESS, ClockKind.CALENDAR

# Policy → where → (within, clock). A length said in "horas/días hábiles" is business time; one
# without "hábil" is calendar time, unless the seed says so for the whole table (000's
# "(Horas Hábiles)" title) or for the row (004's "24/7"). 002 gives no times: its values are the
# desk's agreement, on business time. A share of a target runs on that target's clock (None).
# The seed's words are quoted in each file's comments.
READINGS: dict[str, dict[str, tuple[str, ClockKind | None]]] = {
    "bitam": {
        "urgente.first_response": ("1h", BUSINESS),  # "Dentro de 1 horas hábiles"
        "urgente.resolution": ("1h", BUSINESS),  # "Dentro de 1 horas hábiles"
        "alta.first_response": ("2h", BUSINESS),  # "Dentro de 2 horas hábiles"
        "alta.resolution": ("2h", BUSINESS),  # "Dentro de 2 horas hábiles"
        "media.first_response": ("4h", BUSINESS),  # "Dentro de 4 horas hábiles"
        "media.resolution": ("24h", BUSINESS),  # "Dentro de 24 horas hábiles"
        "baja.first_response": ("24h", BUSINESS),  # "Dentro de 24 horas hábiles"
        "baja.resolution": ("72h", BUSINESS),  # "Dentro de 72 horas hábiles"
        "nuevo-requerimiento.decision": ("10bd", BUSINESS),  # "En 10 días hábiles"
        "abandonment.inactivity": ("7d", CALENDAR),  # "durante 7 días naturales"
        "abandonment.grace_after_resolution": ("15bd", BUSINESS),  # "15 días hábiles"
        "abandonment.notice_before_close": ("2bd", BUSINESS),  # our choice
        "lifecycle.reopen_window": ("15bd", BUSINESS),  # "15 días hábiles para comentarios"
        "lifecycle.auto_close_after": ("15bd", BUSINESS),  # "vencimiento de plazo"
    },
    "ikhodi": {
        "p1.first_response": ("15m", CALENDAR),  # "15 minutos"
        "p1.resolution": ("4h", CALENDAR),  # "4 horas"
        "p2.first_response": ("30m", CALENDAR),  # "30 minutos"
        "p2.resolution": ("8h", BUSINESS),  # "8 horas hábiles"
        "p3.first_response": ("1h", BUSINESS),  # "1 hora hábil"
        "p3.resolution": ("24h", BUSINESS),  # "24 horas hábiles"
        "p4.first_response": ("4h", BUSINESS),  # "4 horas hábiles"
        "p4.resolution": ("3bd", BUSINESS),  # "3 días hábiles"
        "escalation.2": ("0.75 of resolution", None),  # our choice
    },
    "proditma": {
        "alta.first_response": ("1h", BUSINESS),
        "alta.resolution": ("8h", BUSINESS),
        "alta.update": ("2h", BUSINESS),
        "media.first_response": ("4h", BUSINESS),
        "media.resolution": ("24h", BUSINESS),
        "media.update": ("8h", BUSINESS),
        "baja.first_response": ("8h", BUSINESS),
        "baja.resolution": ("5bd", BUSINESS),
        "escalation.2": ("0.5 of resolution", None),
        "escalation.3": ("4h", BUSINESS),
    },
    "itac": {
        "critico.first_response": ("2h", CALENDAR),  # "dos (2) horas"
        "importante.first_response": ("4h", BUSINESS),  # "cuatro (4) horas hábiles"
        "normal.first_response": ("8h", BUSINESS),  # "ocho (8) horas hábiles"
    },
    "btw": {
        "p1.resolution": ("8h", CALENDAR),  # "1 a 8 horas | 24/7"
        "p2.resolution": ("72h", BUSINESS),  # "1- 72 horas hábiles"
        "p3.resolution": ("120h", BUSINESS),  # "1-120 horas hábiles"
        "implementacion.resolution": ("48h", BUSINESS),  # "48 horas hábiles"
    },
}


def targets_of(policy: SupportPolicy) -> dict[str, tuple[str, ClockKind | None]]:
    """Every time promise of a policy, by where it is, as (length, clock)."""

    def read(target: Target) -> tuple[str, ClockKind]:
        return str(target.within), target.clock

    found: dict[str, tuple[str, ClockKind | None]] = {
        f"{p.id}.{metric.value}": read(t)
        for p in policy.priorities
        for metric, t in p.targets.items()
    }
    found |= {f"{t.id}.decision": read(t.decision) for t in policy.ticket_types if t.decision}
    for name in ("inactivity", "grace_after_resolution"):
        if (target := getattr(policy.abandonment, name)) is not None:
            found[f"abandonment.{name}"] = read(target)
    if (notice := policy.abandonment.notice_before_close) is not None:
        found["abandonment.notice_before_close"] = (
            str(notice),
            BUSINESS if notice.is_business_days else CALENDAR,
        )
    for name in ("reopen_window", "auto_close_after"):
        if (target := getattr(policy.lifecycle, name)) is not None:
            found[f"lifecycle.{name}"] = read(target)
    for level in policy.escalation.levels if policy.escalation else []:
        if isinstance(level.after, Target):
            found[f"escalation.{level.level}"] = read(level.after)
        elif isinstance(level.after, ShareOfTarget):
            # a share runs on the clock of the target it is a share of: no clock of its own
            found[f"escalation.{level.level}"] = (
                f"{level.after.share} of {level.after.of.value}",
                None,
            )
    return found


@pytest.mark.parametrize("policy_id", sorted(READINGS))
def test_every_target_is_read_as_its_seed_words_say(
    policies: dict[str, SupportPolicy], policy_id: str
) -> None:
    assert targets_of(policies[policy_id]) == READINGS[policy_id]


_TARGET_LINE = re.compile(r"\b(within|notice_before_close|share):")


def _comment_blocks(lines: list[str]) -> list[tuple[int, int, str]]:
    """Runs of whole-line comments as (first line, last line, text joined by spaces)."""
    blocks: list[tuple[int, int, str]] = []
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("#"):
            continue
        text = line.lstrip()[1:].strip()
        if blocks and blocks[-1][1] == i - 1:
            first, _, joined = blocks[-1]
            blocks[-1] = (first, i, f"{joined} {text}")
        else:
            blocks.append((i, i, text))
    return blocks


def _comment_on(lines: list[str], index: int) -> str:
    """The comment a setting carries: the comment lines right above it, or one at line end."""
    blocks = {last: text for _, last, text in _comment_blocks(lines)}
    inline = lines[index].split(" #", 1)[1] if " #" in lines[index] else ""
    return f"{blocks.get(index - 1, '')} {inline}".strip()


def _quotes(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_target_has_a_comment_quoting_its_seed(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    targets = [i for i, line in enumerate(lines) if _TARGET_LINE.search(line.split(" #")[0])]
    assert targets, f"{path.name} has no targets?"
    bare = [
        f"{path.name}:{i + 1}: {lines[i].strip()}"
        for i in targets
        if not (_quotes(_comment_on(lines, i)) or "decisión nuestra" in _comment_on(lines, i))
    ]
    assert bare == [], "targets without the seed's words or '(decisión nuestra: ...)'"


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_what_the_comments_quote_is_in_the_seed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    seed_file = SEEDS / yaml.safe_load(text)["source"]
    if not seed_file.exists():
        pytest.skip(f"the seed documents are not beside the repository ({seed_file})")
    seed = _normalized(seed_file.read_text(encoding="utf-8"))
    misquoted = [
        f"{path.name}:{first + 1}: {fragment!r}"
        for first, _, comment in _comment_blocks(text.splitlines())
        for quote in _quotes(comment)
        for fragment in re.split(r"\.\.\.|…", quote)
        if fragment.strip() and _normalized(fragment) not in seed
    ]
    assert misquoted == []


# -- reopening -----------------------------------------------------------------------------------


@pytest.mark.parametrize("policy_id", sorted(READINGS))
def test_policies_that_allow_reopening_restart_the_resolution_clock(
    policies: dict[str, SupportPolicy], policy_id: str
) -> None:
    # Every policy lets a resolved ticket be reopened before it is closed (a customer reply
    # reopens it; 004: "El cliente puede solicitar la reapertura"; 000: "permanece abierto 15
    # días hábiles para comentarios"); a closed one never is. Our decision: the reopen starts a
    # new resolution cycle from zero; the first response does not restart.
    assert policies[policy_id].lifecycle.on_reopen == "restart"


def test_000_reopens_only_during_the_15_business_days_for_comments(
    policies: dict[str, SupportPolicy],
) -> None:
    bitam = policies["bitam"]
    assert bitam.lifecycle.reopen_window == bitam.abandonment.grace_after_resolution
    resolved = datetime(2026, 11, 23, 10, tzinfo=MEXICO)  # Monday
    window = bitam.lifecycle.reopen_window
    assert window is not None
    # 15 days of 9.5 business hours: Monday 10:00 three weeks later.
    assert bitam.due(window, resolved) == datetime(2026, 12, 14, 10, tzinfo=MEXICO)


@pytest.mark.parametrize("policy_id", ["ikhodi", "proditma", "itac", "btw"])
def test_other_policies_may_be_reopened_until_the_ticket_is_closed(
    policies: dict[str, SupportPolicy], policy_id: str
) -> None:
    assert policies[policy_id].lifecycle.reopen_window is None
