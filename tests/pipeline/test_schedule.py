"""Schedule, ScheduleRecurrence and TimeZone (azureml.pipeline.core.schedule): Azure's checks and
messages, create / create_for_pipeline_endpoint / get / list / get_all / update / enable /
disable / load_yaml over a real store. Firing is tested in tests/server/test_schedules*.py."""
from __future__ import annotations

import logging
import textwrap
from datetime import datetime, timezone

import pytest

from amlocal.pipeline.core.schedule import Schedule, ScheduleRecurrence, TimeZone


@pytest.fixture(autouse=True)
def idle_server_scheduler(home, tmp_path, monkeypatch):
    """The home's studio server (started by publish() and Schedule.create) gets a clock stuck
    in 2000 (the scheduler's test hook): the schedules made here never fire."""
    clock = tmp_path / "server-clock"
    clock.write_text("2000-01-01T00:00:00Z")
    monkeypatch.setenv("AMLOCAL_SCHEDULER_CLOCK_FILE", str(clock))


@pytest.fixture
def published(workspace, tmp_path):
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("print('hi')\n")
    store = workspace.get_default_datastore()
    where = PipelineParameter("input_path", default_value=DataPath(store, "incoming"))
    pair = (where, DataPathComputeBinding(mode="mount"))
    count = PipelineParameter("count", default_value=1)
    step = PythonScriptStep("a.py", source_directory=str(src),
                            arguments=["--n", count, "--in", pair], inputs=[pair])
    return Pipeline(workspace, [step]).publish("scheduled")


@pytest.mark.parametrize("kwargs, message", [
    ({"frequency": "hour", "interval": 1}, "Invalid value for frequency, only one of Minute, "
                                           "Hour, Day, Week, or Month accepted"),
    ({"frequency": "Hour", "interval": 0}, "Interval must be an integer greater than 0."),
    ({"frequency": "Hour", "interval": 1, "hours": [1]},
     "Can only specify hours if frequency is Week or Day."),
    ({"frequency": "Month", "interval": 1, "minutes": [1]},
     "Can only specify minutes if frequency is Week or Day."),
    ({"frequency": "Day", "interval": 1, "week_days": ["Monday"]},
     "Can only specify week days if frequency is Week."),
    ({"frequency": "Day", "interval": 1, "hours": [24]}, "Hours must be between 0 and 23."),
    ({"frequency": "Day", "interval": 1, "minutes": [60]}, "Minutes must be between 0 and 59."),
    ({"frequency": "Week", "interval": 1, "week_days": ["monday"]},
     "Week days must be a list of str, accepted values: Monday, Tuesday, Wednesday, Thursday, "
     "Friday, Saturday, Sunday."),
    ({"frequency": "Hour", "interval": 1, "time_zone": "UTC"},
     "Time zone is not a valid TimeZone enum."),
])
def test_validate_refuses_with_azures_messages(kwargs, message):
    recurrence = ScheduleRecurrence(**kwargs)       # the constructor does not validate
    with pytest.raises(ValueError) as caught:
        recurrence.validate()
    assert str(caught.value) == message


def test_constructor_checks_and_conversions():
    with pytest.raises(ValueError, match="Can not specify tzinfo for start_time, use time_zone"):
        ScheduleRecurrence("Day", 1, start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="Can not specify time_of_day and hours or minutes."):
        ScheduleRecurrence("Day", 1, time_of_day="10:30", hours=[1])
    with pytest.raises(ValueError, match="time_of_day should be in the format hh:mm."):
        ScheduleRecurrence("Day", 1, time_of_day="1030")
    with pytest.raises(ValueError, match="Time of day hour value must be between 0 and 23."):
        ScheduleRecurrence("Day", 1, time_of_day="24:00")
    with pytest.raises(ValueError, match="Time of day minute value must be between 0 and 59."):
        ScheduleRecurrence("Day", 1, time_of_day="23:60")
    r = ScheduleRecurrence("Week", 2, start_time=datetime(2024, 5, 20, 16), time_of_day="18:30",
                           week_days=["Monday"])
    assert (r.start_time, r.time_zone, r.hours, r.minutes) == (
        "2024-05-20T16:00:00", TimeZone.UTC, [18], [30])
    r.validate()
    missing_zone = ScheduleRecurrence("Hour", 1, start_time="2024-01-01T00:00:00")
    missing_zone.time_zone = None
    with pytest.raises(ValueError, match="Must specify time_zone if start_time is provided."):
        missing_zone.validate()
    assert TimeZone.PacificStandardTime.value == "Pacific Standard Time"
    assert TimeZone("UTC+12") is TimeZone.UTC12


def test_create_get_list_update_enable_disable(workspace, published):
    recurrence = ScheduleRecurrence(frequency="Day", interval=1, time_of_day="06:15",
                                    time_zone=TimeZone.WEuropeStandardTime)
    schedule = Schedule.create(workspace, name="daily", pipeline_id=published.id,
                               experiment_name="nightly", recurrence=recurrence,
                               description="every morning", pipeline_parameters={"count": "3"},
                               wait_for_provisioning=True)
    assert (schedule.name, schedule.status, schedule.pipeline_id, schedule.description) == (
        "daily", "Active", published.id, "every morning")
    assert schedule.recurrence == recurrence and schedule._schedule_type == "Recurrence"
    assert schedule.datastore_name is None and schedule.pipeline_endpoint_id is None
    assert schedule._info.pipeline_parameters == {"count": 3}   # checked and typed now
    assert "Runs at 6:15 every Day" in repr(schedule)

    got = Schedule.get(workspace, schedule.id)
    assert (got.id, got.name, got.recurrence) == (schedule.id, "daily", recurrence)
    assert [s.id for s in Schedule.list(workspace)] == [schedule.id]
    assert [s.id for s in Schedule.list(workspace, pipeline_id=published.id)] == [schedule.id]

    schedule.disable()
    assert schedule.status == "Disabled" == Schedule.get(workspace, schedule.id).status
    assert Schedule.list(workspace) == []
    assert [s.id for s in Schedule.list(workspace, active_only=False)] == [schedule.id]
    # with a pipeline id, Azure lists its schedules whatever their status
    assert [s.id for s in Schedule.list(workspace, pipeline_id=published.id)] == [schedule.id]
    schedule.enable()
    assert schedule.status == "Active"

    hourly = ScheduleRecurrence(frequency="Hour", interval=2)
    schedule.update(name="two-hourly", recurrence=hourly, pipeline_parameters={"count": 7})
    again = Schedule.get(workspace, schedule.id)
    assert (again.name, again.recurrence, again._info.pipeline_parameters) == (
        "two-hourly", hourly, {"count": 7})
    with pytest.raises(ValueError, match="^Status must be either Active or Disabled$"):
        schedule.update(status="Paused")
    with pytest.raises(ValueError, match="^Can not specify a Datastore for a Recurrence"):
        schedule.update(datastore=workspace.get_default_datastore())


def test_create_refuses_what_azure_refuses(workspace, published):
    from amlocal.errors import NotFoundError, UserErrorException
    store = workspace.get_default_datastore()
    hourly = ScheduleRecurrence(frequency="Hour", interval=1)
    cases = [
        ({"recurrence": hourly, "datastore": store}, "Can not specify both a Recurrence and a "
                                                      "Datastore"),
        ({"recurrence": hourly, "data_path_parameter_name": "input_path"},
         "Data Path parameter name can only be specified for Datastore schedules."),
        ({"recurrence": hourly, "path_on_datastore": "x"},
         "Path on datastore parameter can only be specified for Datastore schedules."),
        ({"recurrence": ScheduleRecurrence(frequency="Hour", interval=0)},
         "Interval must be an integer greater than 0."),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError) as caught:
            Schedule.create(workspace, "bad", published.id, "exp", **kwargs)
        assert str(caught.value) == message
    with pytest.raises(UserErrorException, match="Pipeline parameter with name nope does not "
                                                  "exist"):
        Schedule.create(workspace, "bad", published.id, "exp", recurrence=hourly,
                        pipeline_parameters={"nope": 1})
    with pytest.raises(UserErrorException, match="'count' is not a DataPath pipeline "
                                                  "parameter.*input_path"):
        Schedule.create(workspace, "bad", published.id, "exp", datastore=store,
                        data_path_parameter_name="count")
    with pytest.raises(NotFoundError, match="no published pipeline with id missing"):
        Schedule.create(workspace, "bad", "missing", "exp", recurrence=hourly)
    with pytest.raises(UserErrorException, match="needs a recurrence .* or a datastore"):
        Schedule.create(workspace, "bad", published.id, "exp")
    with pytest.raises(ValueError, match="The polling interval must be greater"):
        Schedule.create(workspace, "bad", published.id, "exp", datastore=store,
                        polling_interval=0)
    assert Schedule.list(workspace, active_only=False) == []


def test_datastore_schedule_on_a_local_datastore(workspace, published, tmp_path):
    store = workspace.get_default_datastore()
    assert store.datastore_type != "AzureBlob"   # amlocal watches any datastore it has
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "old.csv").write_text("a\n1\n")
    store.upload(str(folder), target_path="incoming", show_progress=False)
    schedule = Schedule.create(workspace, "on-data", published.id, "ingest", datastore=store,
                               polling_interval=1, data_path_parameter_name="input_path",
                               path_on_datastore="/incoming/")
    assert (schedule._schedule_type, schedule.datastore_name, schedule.path_on_datastore,
            schedule.polling_interval, schedule.data_path_parameter_name) == (
        "DataStore", store.name, "incoming", 1, "input_path")
    assert schedule.recurrence is None and "Datastore: " in str(schedule)
    # files already there when the schedule is made are its baseline: they do not fire
    assert list(workspace._store.get_watched_files(schedule.id)) == ["incoming/old.csv"]
    with pytest.raises(ValueError, match="^Can not specify a recurrence for a Datastore"):
        schedule.update(recurrence=ScheduleRecurrence(frequency="Hour", interval=1))
    schedule.update(polling_interval=10, path_on_datastore="other")
    assert (schedule.polling_interval, schedule.path_on_datastore) == (10, "other")
    assert workspace._store.get_watched_files(schedule.id) == {}


def test_get_all_warns_and_keeps_the_endpoint_filter(workspace, published, caplog):
    Schedule.create(workspace, "h", published.id, "exp",
                    recurrence=ScheduleRecurrence(frequency="Hour", interval=1))
    with caplog.at_level(logging.WARNING):
        found = Schedule.get_all(workspace)
    assert len(found) == 1 and "Use Schedule.list(workspace) instead." in caplog.text
    assert Schedule.get_all(workspace, pipeline_endpoint_id="none") == []


def test_load_yaml(workspace, tmp_path):
    path = tmp_path / "schedule.yml"
    path.write_text(textwrap.dedent("""
        Schedule:
          description: from yaml
          pipeline_parameters: {count: 2}
          wait_for_provisioning: true
          wait_timeout: 60
          datastore_name: workspaceblobstore
          polling_interval: 5
          data_path_parameter_name: input_path
          continue_on_step_failure: false
          path_on_datastore: incoming
          recurrence:
            frequency: Week
            interval: 1
            start_time: "2024-01-01T09:00:00"
            time_zone: Pacific Standard Time
            hours: null
            minutes: null
            time_of_day: "09:30"
            week_days: [Monday]
    """))
    loaded = Schedule.load_yaml(workspace, str(path))
    assert loaded["description"] == "from yaml" and loaded["pipeline_parameters"] == {"count": 2}
    assert loaded["datastore_name"].name == "workspaceblobstore"
    recurrence = loaded["recurrence"]
    assert isinstance(recurrence, ScheduleRecurrence)
    assert (recurrence.time_zone, recurrence.hours, recurrence.minutes, recurrence.week_days) \
        == (TimeZone.PacificStandardTime, [9], [30], ["Monday"])
    bad = tmp_path / "bad.yml"
    bad.write_text("Other: {}\n")
    with pytest.raises(ValueError, match='must have a "Schedule:" section'):
        Schedule.load_yaml(workspace, str(bad))
    partial = tmp_path / "partial.yml"
    partial.write_text("Schedule:\n  recurrence: {frequency: Hour, interval: 1}\n")
    with pytest.raises(KeyError):
        Schedule.load_yaml(workspace, str(partial))
