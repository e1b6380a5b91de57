"""Each seed policy, loaded from its example file, keeps the promises its document makes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contracts.policy import SupportPolicy, load_policies
from contracts.vocabulary import ClockKind, ClockStart, Metric

POLICIES = Path(__file__).resolve().parents[2] / "policies"
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
