"""The dynamic-config registry: typed values, defaults, unknown keys, bad values."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pytemporal.common import dynamic_config as dc
from pytemporal.common.dynamic_config import DynamicConfig, DynamicConfigError


def test_defaults_apply_when_nothing_is_given() -> None:
    config, unknown = DynamicConfig.from_values({})
    assert unknown == []
    assert config.get(dc.BLOB_SIZE_LIMIT_ERROR) == 2 * 1024 * 1024
    assert config.get(dc.ENABLE_UPDATE_WORKFLOW_EXECUTION) is True
    assert config.get(dc.LONG_POLL_EXPIRATION_INTERVAL) == timedelta(minutes=1)


def test_given_values_override_defaults_and_unknown_keys_are_returned() -> None:
    config, unknown = DynamicConfig.from_values(
        {
            "limit.historyCount.suggestContinueAsNew": 50,
            "system.enableEagerWorkflowStart": False,
            "some.future.key": {"anything": True},
            "another.key": 1,
        }
    )
    assert unknown == ["some.future.key", "another.key"]
    assert config.get(dc.HISTORY_COUNT_SUGGEST_CONTINUE_AS_NEW) == 50
    assert config.get(dc.ENABLE_EAGER_WORKFLOW_START) is False
    assert "some.future.key" not in config.values


def test_every_key_the_sdk_harnesses_pass_is_known() -> None:
    # start_local's own three, then the temporalio test suite's (tests/conftest.py).
    passed = {
        "frontend.enableServerVersionCheck": False,
        "frontend.enableUpdateWorkflowExecution": True,
        "frontend.enableUpdateWorkflowExecutionAsyncAccepted": True,
        "system.forceSearchAttributesCacheRefreshOnRead": True,
        "limit.historyCount.suggestContinueAsNew": 50,
        "system.enableEagerWorkflowStart": True,
        "frontend.enableExecuteMultiOperation": True,
        "frontend.workerVersioningWorkflowAPIs": True,
        "frontend.workerVersioningDataAPIs": True,
        "system.enableDeploymentVersions": True,
        "frontend.activityAPIsEnabled": True,
        "component.nexusoperations.recordCancelRequestCompletionEvents": True,
    }
    config, unknown = DynamicConfig.from_values(passed)
    assert unknown == []
    assert dict(config.values) == passed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1024, 1024), (1024.0, 1024)],
)
def test_int_values(raw: Any, expected: int) -> None:
    config, _ = DynamicConfig.from_values({"limit.blobSize.error": raw})
    value = config.get(dc.BLOB_SIZE_LIMIT_ERROR)
    assert (value, type(value)) == (expected, int)


@pytest.mark.parametrize(
    ("raw", "expected"), [(True, True), (False, False), ("true", True), ("FALSE", False)]
)
def test_bool_values(raw: Any, expected: bool) -> None:
    config, _ = DynamicConfig.from_values({"system.enableEagerWorkflowStart": raw})
    assert config.get(dc.ENABLE_EAGER_WORKFLOW_START) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (30, timedelta(seconds=30)),
        (1.5, timedelta(seconds=1.5)),
        ("90s", timedelta(seconds=90)),
        ("1m30s", timedelta(seconds=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("1.5h", timedelta(minutes=90)),
        ("0", timedelta(0)),
    ],
)
def test_duration_values(raw: Any, expected: timedelta) -> None:
    config, _ = DynamicConfig.from_values({"matching.longPollExpirationInterval": raw})
    assert config.get(dc.LONG_POLL_EXPIRATION_INTERVAL) == expected


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("limit.blobSize.error", "big"),
        ("limit.blobSize.error", True),
        ("limit.blobSize.error", 1.5),
        ("limit.blobSize.error", None),
        ("system.enableEagerWorkflowStart", 1),
        ("system.enableEagerWorkflowStart", "yes"),
        ("matching.longPollExpirationInterval", "soon"),
        ("matching.longPollExpirationInterval", "10"),
        ("matching.longPollExpirationInterval", [1]),
        ("matching.longPollExpirationInterval", False),
    ],
)
def test_a_known_key_with_a_wrong_value_is_an_error(key: str, raw: Any) -> None:
    with pytest.raises(DynamicConfigError, match=key.replace(".", r"\.")):
        DynamicConfig.from_values({key: raw})


def test_every_known_setting_converts_its_own_default() -> None:
    for key, setting in dc.KNOWN_SETTINGS.items():
        assert setting.key == key
        assert setting.kind in ("bool", "int", "float", "duration", "list")
        assert setting.doc
        if setting.kind != "duration":
            assert setting.coerce(setting.default) == setting.default


def test_config_is_read_only() -> None:
    config, _ = DynamicConfig.from_values({})
    with pytest.raises(AttributeError):
        config.values = {}  # type: ignore[misc]
