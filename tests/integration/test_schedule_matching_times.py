"""Differential: schedule spec evaluation against Temporal's dev server.

Each spec is created (paused) as a schedule on the reference server and its
`ListScheduleMatchingTimes` over a year is compared with
`pytemporal.scheduler.spec.CompiledSpec.matching_times` called directly (jitter
included: Temporal lists jittered times, seeded by namespace id and schedule id).
The spec DescribeSchedule returns is compared with `canonicalize`, and specs the
reference rejects must be rejected with the same message.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.schedule.v1 import (
    CalendarSpec,
    IntervalSpec,
    Range,
    Schedule,
    ScheduleAction,
    ScheduleSpec,
    ScheduleState,
    StructuredCalendarSpec,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    CreateScheduleRequest,
    DescribeNamespaceRequest,
    DescribeScheduleRequest,
    ListScheduleMatchingTimesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from pytemporal.scheduler.spec import (
    CompiledSpec,
    SpecError,
    canonicalize,
    matching_times_response,
)

from .harness import REFERENCE, ServerProcess
from .schedule_specs import generate

pytestmark = pytest.mark.reference

GENERATED = 240
MIN_COMPARED = 200


@dataclass
class Reference:
    client: Client
    namespace_id: str


@pytest.fixture(scope="module")
async def reference() -> AsyncIterator[Reference]:
    proc = ServerProcess(REFERENCE)
    client = await proc.start()
    try:
        ns = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="default")
        )
        yield Reference(client, ns.namespace_info.id)
    finally:
        proc.terminate(timeout=5)


def schedule(spec: ScheduleSpec) -> Schedule:
    start = NewWorkflowExecutionInfo(
        workflow_id="wf", workflow_type=WorkflowType(name="W"), task_queue=TaskQueue(name="tq")
    )
    return Schedule(
        spec=spec,
        action=ScheduleAction(start_workflow=start),
        state=ScheduleState(paused=True),
    )


def ts(t: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(t)
    return out


@dataclass
class Outcome:
    error: str | None = None
    times: int = 0


async def compare(
    ref: Reference, label: str, spec: ScheduleSpec, start: datetime, end: datetime
) -> Outcome:
    """Creates the schedule on the reference and compares everything we can see."""
    svc = ref.client.workflow_service
    sid = f"{label}-{uuid.uuid4().hex[:8]}"
    try:
        ours_canonical: ScheduleSpec | None = canonicalize(spec)
        ours_error = None
    except SpecError as exc:
        ours_canonical, ours_error = None, str(exc)
    try:
        await svc.create_schedule(
            CreateScheduleRequest(
                namespace="default",
                schedule_id=sid,
                schedule=schedule(spec),
                request_id=str(uuid.uuid4()),
            )
        )
    except RPCError as err:
        if err.status != RPCStatusCode.INVALID_ARGUMENT:
            raise
        assert ours_error == err.message, f"{label}: {spec}"
        return Outcome(error=err.message)
    assert ours_error is None, f"{label}: reference accepted {spec}, we said {ours_error}"
    described = await svc.describe_schedule(
        DescribeScheduleRequest(namespace="default", schedule_id=sid)
    )
    assert described.schedule.spec == ours_canonical, f"{label}: canonical form of {spec}"
    request = ListScheduleMatchingTimesRequest(
        namespace="default", schedule_id=sid, start_time=ts(start), end_time=ts(end)
    )
    answer = await svc.list_schedule_matching_times(request)
    expected = [t.ToNanoseconds() for t in answer.start_time]
    compiled = CompiledSpec(spec, jitter_seed=f"{ref.namespace_id}-{sid}")
    got = compiled.matching_nanos(
        request.start_time.ToNanoseconds(), request.end_time.ToNanoseconds()
    )
    if got != expected:
        first = next(
            (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
            min(len(got), len(expected)),
        )
        pytest.fail(
            f"{label}: {len(got)} times vs reference {len(expected)}, first difference at #{first}"
            f" (ours {got[first : first + 3]}, reference {expected[first : first + 3]}) for {spec}"
        )
    # Through the datetime interface too.
    assert [int(t.timestamp() * 1000) for t in compiled.matching_times(start, end)] == [
        n // 1_000_000 for n in expected
    ]
    return Outcome(times=len(expected))


async def compare_all(
    ref: Reference, cases: list[tuple[str, ScheduleSpec, datetime, datetime]]
) -> list[Outcome]:
    # A few at a time: the reference answers each from its scheduler workflow.
    gate = asyncio.Semaphore(6)

    async def one(case: tuple[str, ScheduleSpec, datetime, datetime]) -> Outcome:
        async with gate:
            return await compare(ref, *case)

    return await asyncio.gather(*(one(c) for c in cases))


@pytest.mark.timeout(900)
async def test_generated_specs_match_reference(reference: Reference) -> None:
    cases = [(f"gen{seed}", *generate(seed)) for seed in range(GENERATED)]
    outcomes = await compare_all(reference, cases)
    compared = [o for o in outcomes if o.error is None]
    print(
        f"\n{len(compared)} generated specs compared over a year each, "
        f"{sum(o.times for o in compared)} action times identical; "
        f"{len(outcomes) - len(compared)} rejected with identical messages"
    )
    assert len(compared) >= MIN_COMPARED


def cron(text: str, **kwargs: object) -> ScheduleSpec:
    return ScheduleSpec(cron_string=[text], **kwargs)  # type: ignore[arg-type]


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def interval(seconds: int, phase: int = 0) -> IntervalSpec:
    iv = IntervalSpec()
    iv.interval.FromSeconds(seconds)
    if phase:
        iv.phase.FromSeconds(phase)
    return iv


def with_times(spec: ScheduleSpec, **times: datetime | int) -> ScheduleSpec:
    for field, value in times.items():
        if field == "jitter":
            assert isinstance(value, int)
            spec.jitter.FromSeconds(value)
        else:
            assert isinstance(value, datetime)
            getattr(spec, field).FromDatetime(value)
    return spec


def paris_tzif() -> bytes:
    return importlib.resources.files("tzdata.zoneinfo.Europe").joinpath("Paris").read_bytes()


YEAR = (d(2024, 1, 1), d(2025, 1, 1))
EDGE_CASES: list[tuple[str, ScheduleSpec, datetime, datetime]] = [
    ("berlin-0230", cron("30 2 * * *", timezone_name="Europe/Berlin"), *YEAR),
    (
        "berlin-q-spring",
        cron("*/15 * * * *", timezone_name="Europe/Berlin"),
        d(2024, 3, 30),
        d(2024, 4, 1),
    ),
    (
        "berlin-q-fall",
        cron("*/15 * * * *", timezone_name="Europe/Berlin"),
        d(2024, 10, 26),
        d(2024, 10, 28),
    ),
    (
        "berlin-hour-before-fall",
        cron("0 0,1 * * *", timezone_name="Europe/Berlin"),
        d(2024, 10, 26),
        d(2024, 10, 28),
    ),
    (
        "berlin-secs",
        cron("*/20 * 1-3 * * * *", timezone_name="Europe/Berlin"),
        d(2024, 10, 26, 22),
        d(2024, 10, 27, 4),
    ),
    ("ny-0130", cron("CRON_TZ=America/New_York 30 1 * * *"), *YEAR),
    ("ny-0230", cron("TZ=America/New_York 30 2 * * *"), *YEAR),
    (
        "ny-hourly-fall",
        cron("@hourly", timezone_name="America/New_York"),
        d(2024, 11, 2),
        d(2024, 11, 5),
    ),
    (
        "ny-hourly-spring",
        cron("@hourly", timezone_name="America/New_York"),
        d(2024, 3, 9),
        d(2024, 3, 12),
    ),
    ("lord-howe", cron("*/10 1-2 * * *", timezone_name="Australia/Lord_Howe"), *YEAR),
    ("santiago-midnight", cron("0,30 0 * * *", timezone_name="America/Santiago"), *YEAR),
    ("santiago-daily", cron("@daily", timezone_name="America/Santiago"), *YEAR),
    ("sydney-0200", cron("0 2 * * *", timezone_name="Australia/Sydney"), *YEAR),
    ("chatham", cron("45 2-3 * * *", timezone_name="Pacific/Chatham"), *YEAR),
    ("leap-day", cron("0 12 29 feb *"), d(2023, 1, 1), d(2033, 1, 1)),
    ("month-end", cron("0 12 30,31 * *", timezone_name="Asia/Kolkata"), *YEAR),
    ("last-days", cron("0 0 28-31 * *"), *YEAR),
    ("year-2100", cron("0 0 1 1 *"), d(2090, 6, 1), d(2103, 1, 1)),
    (
        "interval-2100",
        ScheduleSpec(interval=[interval(86400 * 30, 3600)]),
        d(2099, 6, 1),
        d(2102, 1, 1),
    ),
    ("years-list", cron("0 0 1 * * 2024,2026-2027"), d(2023, 6, 1), d(2028, 1, 1)),
    ("every-phase", cron("@every 14h/3h"), *YEAR),
    ("every-days", cron("@every 3d"), *YEAR),
    (
        "interval-jitter",
        with_times(ScheduleSpec(interval=[interval(3600, 60)]), jitter=7200),
        d(2024, 1, 1),
        d(2024, 2, 12),
    ),
    ("calendar-jitter", with_times(cron("0 9 * * mon-fri"), jitter=86400), *YEAR),
    ("ms-jitter", with_times(cron("0 * * * * *"), jitter=1), d(2024, 1, 1), d(2024, 1, 2)),
    (
        "start-end",
        with_times(cron("0 * * * *"), start_time=d(2024, 5, 1, 3), end_time=d(2024, 5, 20, 7)),
        *YEAR,
    ),
    (
        "start-end-nanos",
        with_times(
            ScheduleSpec(interval=[interval(60)]),
            start_time=d(2024, 5, 1, 3, 0, 0, 500000),
            end_time=d(2024, 5, 1, 12, 0),
        ),
        *YEAR,
    ),
    (
        "window-nanos",
        ScheduleSpec(interval=[interval(1)]),
        d(2024, 5, 1, 3, 0, 0, 250000),
        d(2024, 5, 1, 3, 5, 0, 750000),
    ),
    (
        "exclude-most",
        ScheduleSpec(
            cron_string=["* * * * *"],
            exclude_structured_calendar=[
                StructuredCalendarSpec(
                    second=[Range(start=0, end=59)],
                    minute=[Range(start=0, end=59)],
                    hour=[Range(start=0, end=22)],
                    day_of_month=[Range(start=1, end=31)],
                    month=[Range(start=1, end=12)],
                    day_of_week=[Range(start=0, end=6)],
                )
            ],
        ),
        d(2024, 1, 1),
        d(2024, 1, 3),
    ),
    (
        "exclude-calendar-weekend",
        ScheduleSpec(
            calendar=[CalendarSpec(hour="9", minute="30")],
            exclude_calendar=[
                CalendarSpec(hour="*", minute="*", second="*", day_of_week="sat,sun")
            ],
            timezone_name="Europe/London",
        ),
        *YEAR,
    ),
    (
        "empty-fields-never",
        ScheduleSpec(structured_calendar=[StructuredCalendarSpec(hour=[Range(start=1)])]),
        *YEAR,
    ),
    ("dow-7", cron("0 6 * * 5-7"), *YEAR),
    ("dow-step-7", cron("0 6 * * 1-7/2"), *YEAR),
    (
        "tzdata",
        ScheduleSpec(
            cron_string=["0 2 * * *"], timezone_name="Custom/Paris", timezone_data=paris_tzif()
        ),
        *YEAR,
    ),
    ("utc-explicit", cron("0 0 * * *", timezone_name="UTC"), *YEAR),
    ("no-spec", ScheduleSpec(), *YEAR),
]


@pytest.mark.timeout(300)
async def test_edge_cases_match_reference(reference: Reference) -> None:
    outcomes = await compare_all(reference, EDGE_CASES)
    assert all(o.error is None for o in outcomes)


def structured(**fields: list[Range] | str) -> ScheduleSpec:
    return ScheduleSpec(structured_calendar=[StructuredCalendarSpec(**fields)])  # type: ignore[arg-type]


INVALID: list[tuple[str, ScheduleSpec]] = [
    ("4-fields", cron("* * * *")),
    ("8-fields", cron("0 * * * * * * *")),
    ("step-0", cron("*/0 * * * *")),
    ("minute-61", cron("61 * * * *")),
    ("range-backwards", cron("5-1 * * * *")),
    ("slashes", cron("1/2/3 * * * *")),
    ("dashes", cron("1-2-3 * * * *")),
    ("missing-step", cron("*/ * * * *")),
    ("bad-step", cron("*/x * * * *")),
    ("word", cron("x * * * *")),
    ("bad-month", cron("0 0 * febx *")),
    ("dow-8", cron("0 0 * * 8")),
    ("several-errors", cron("99 99 0 13 9")),
    ("unknown-cron-zone", cron("CRON_TZ=Mars/Olympus 0 * * * *")),
    ("zone-no-fields", cron("CRON_TZ=Europe/Berlin")),
    ("every-nothing", cron("@every")),
    ("every-small", cron("@every 0.5s")),
    ("every-phase-big", cron("@every 1h/2h")),
    ("every-bad-unit", cron("@every 5x")),
    ("every-no-unit", cron("@every 5")),
    ("zones-conflict", ScheduleSpec(cron_string=["TZ=Europe/Berlin 0 * * * *", "0 1 * * *"])),
    ("zone-vs-name", cron("TZ=Europe/Berlin 0 * * * *", timezone_name="Asia/Tokyo")),
    ("unknown-zone", cron("0 * * * *", timezone_name="Not/AZone")),
    ("relative-zone", cron("0 * * * *", timezone_name="../etc/passwd")),
    (
        "bad-tzdata",
        ScheduleSpec(interval=[interval(60)], timezone_name="X", timezone_data=b"garbage"),
    ),
    ("hour-24", structured(hour=[Range(start=24)])),
    ("negative-step", structured(minute=[Range(start=0, end=10, step=-1)])),
    ("year-1999", structured(year=[Range(start=1999)])),
    ("end-past-max", structured(day_of_month=[Range(start=1, end=32)])),
    ("end-before-start", structured(month=[Range(start=5, end=3)])),
    ("long-comment", structured(comment="x" * 201)),
    ("interval-zero", ScheduleSpec(interval=[IntervalSpec()])),
    ("phase-equal", ScheduleSpec(interval=[interval(60, 60)])),
    ("string-calendar", ScheduleSpec(calendar=[CalendarSpec(month="foo", day_of_week="xyz")])),
    ("exclude-string-calendar", ScheduleSpec(exclude_calendar=[CalendarSpec(hour="25")])),
]


@pytest.mark.timeout(300)
async def test_invalid_specs_rejected_as_reference(reference: Reference) -> None:
    outcomes = await compare_all(reference, [(label, spec, *YEAR) for label, spec in INVALID])
    assert all(o.error is not None for o in outcomes), [
        label for (label, _), o in zip(INVALID, outcomes, strict=True) if o.error is None
    ]


# Corner cases of cron strings, string calendars and zone names: accepted or rejected,
# each must come out as on the reference.
CORNER_CASES: list[ScheduleSpec] = [
    ScheduleSpec(cron_string=["0 * * * *"], timezone_name="Local"),
    ScheduleSpec(cron_string=["0 2 * * *"], timezone_name="EST5EDT"),
    ScheduleSpec(cron_string=["0 2 * * *"], timezone_name="Etc/GMT+5"),
    ScheduleSpec(cron_string=["0 2 * * *"], timezone_name="europe/berlin"),
    ScheduleSpec(cron_string=["0 2 * * *"], timezone_name="Europe/Berlin "),
    ScheduleSpec(cron_string=["0 2 * * *"], timezone_name="GMT"),
    ScheduleSpec(cron_string=["0 2 * * *"], timezone_name="US/Pacific"),
    ScheduleSpec(cron_string=["CRON_TZ=Asia/Tokyo @every 5h"]),
    ScheduleSpec(cron_string=["CRON_TZ=Asia/Tokyo @every 5h", "CRON_TZ=Asia/Tokyo 0 1 * * *"]),
    ScheduleSpec(cron_string=["@every 5h", "0 1 * * *"]),
    ScheduleSpec(cron_string=["CRON_TZ= 0 1 * * *"], timezone_name="Asia/Tokyo"),
    ScheduleSpec(cron_string=["  0\t* * *   *  "]),
    ScheduleSpec(cron_string=["0 0 * * SUN-SAT"]),
    ScheduleSpec(cron_string=["0 0 * * 0-7"]),
    ScheduleSpec(cron_string=["0 0 * JAN/2 *"]),
    ScheduleSpec(cron_string=["0 0 1 * * */2"]),
    ScheduleSpec(cron_string=["0 0 1 * * 2024/2"]),
    ScheduleSpec(cron_string=["0 0 1 * * 1999"]),
    ScheduleSpec(cron_string=["0 0 1 * * 2101"]),
    ScheduleSpec(cron_string=["+5 0 1 * *"]),
    ScheduleSpec(cron_string=["05 0 1 * *"]),
    ScheduleSpec(cron_string=["0 0 1 * * # comment # more"]),
    ScheduleSpec(cron_string=["#only comment"]),
    ScheduleSpec(cron_string=["@every 1h30m/15m"]),
    ScheduleSpec(cron_string=["@every 1.5d"]),
    ScheduleSpec(cron_string=["@every -1h"]),
    ScheduleSpec(cron_string=["@every 1h/"]),
    ScheduleSpec(cron_string=["@everyday"]),
    ScheduleSpec(cron_string=["@weekly "]),
    ScheduleSpec(cron_string=["@WEEKLY"]),
    ScheduleSpec(cron_string=["0 0 * * mo-fr"]),
    ScheduleSpec(cron_string=["0 0 * * m"]),
    ScheduleSpec(cron_string=["0 0 * ma *"]),
    ScheduleSpec(cron_string=["0 0 * * 7-7"]),
    ScheduleSpec(cron_string=["0 0 * * 3-7/2"]),
    ScheduleSpec(cron_string=["0 0 * * */7"]),
    ScheduleSpec(cron_string=["0,1,,2 0 * * *"]),
    ScheduleSpec(cron_string=["99999999999999999999 0 * * *"]),
    ScheduleSpec(cron_string=["0/99999999999999999999 0 * * *"]),
    ScheduleSpec(calendar=[CalendarSpec(comment="é" * 101)]),
    ScheduleSpec(calendar=[CalendarSpec(comment="é" * 100)]),
    ScheduleSpec(calendar=[CalendarSpec(hour=" 3 ")]),
    ScheduleSpec(calendar=[CalendarSpec(hour="3, 4")]),
]


@pytest.mark.timeout(300)
async def test_corner_cases_match_reference(reference: Reference) -> None:
    outcomes = await compare_all(
        reference, [(f"corner{i}", spec, *YEAR) for i, spec in enumerate(CORNER_CASES)]
    )
    assert sum(o.error is None for o in outcomes) >= 25


@pytest.mark.timeout(120)
async def test_over_excluded_spec_fails_as_reference(reference: Reference) -> None:
    spec = ScheduleSpec(
        cron_string=["* * * * *"],
        exclude_calendar=[CalendarSpec(second="*", minute="*", hour="*")],
    )
    svc = reference.client.workflow_service
    sid = f"excluded-{uuid.uuid4().hex[:8]}"
    await svc.create_schedule(
        CreateScheduleRequest(
            namespace="default", schedule_id=sid, schedule=schedule(spec), request_id=sid
        )
    )
    request = ListScheduleMatchingTimesRequest(
        namespace="default", schedule_id=sid, start_time=ts(YEAR[0]), end_time=ts(YEAR[1])
    )
    with pytest.raises(RPCError) as raised:
        await svc.list_schedule_matching_times(request)
    assert raised.value.status == RPCStatusCode.INVALID_ARGUMENT
    with pytest.raises(SpecError) as ours:
        matching_times_response(spec, request, jitter_seed=f"{reference.namespace_id}-{sid}")
    assert str(ours.value) == raised.value.message


# Through our own server: the RPC answers from the stored spec with the same jitter.
@pytest.mark.timeout(300)
async def test_our_server_lists_the_same_times(client: Client) -> None:
    ns = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="default")
    )
    ours = Reference(client, ns.namespace_info.id)
    picked = [c for c in EDGE_CASES if c[0] in OUR_SERVER_CASES]
    generated = [(f"gen{seed}", *generate(seed)) for seed in range(20)]
    outcomes = await compare_all(ours, picked + generated)
    assert sum(o.error is None for o in outcomes) >= len(picked)
    invalid = await compare_all(ours, [(label, spec, *YEAR) for label, spec in INVALID[:8]])
    assert all(o.error is not None for o in invalid)


OUR_SERVER_CASES = {
    "berlin-0230",
    "ny-0130",
    "leap-day",
    "interval-jitter",
    "calendar-jitter",
    "start-end-nanos",
    "exclude-calendar-weekend",
    "tzdata",
}
