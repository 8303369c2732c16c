"""A worker deployment's state and Temporal's rules for changing it (pure: no I/O).

Temporal keeps this state in a system workflow per deployment
(`service/worker/workerdeployment/workflow.go`); here it is one document, stored as a
system row, changed by the functions below, which raise the errors Temporal's update
validators return.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus as VS

from pytemporal.common.errors import FailedPrecondition, InvalidArgument, NotFound
from pytemporal.scheduler.farmhash import fingerprint32

# The version string of "no version" in routing (Temporal's UnversionedVersionId).
UNVERSIONED = "__unversioned__"
DELIMITER = ":"
DELIMITER_V31 = "."
MAX_VERSIONS = 100

NOT_FOUND = "no Worker Deployment found with name '{}'; does your Worker Deployment have pollers?"
VERSION_NOT_FOUND = "build ID '{}' not found in Worker Deployment '{}'"
MANAGER_MISMATCH = (
    "ManagerIdentity '{}' is set and does not match user identity '{}'; to proceed, set your "
    "own identity as the ManagerIdentity, remove the ManagerIdentity, or wait for the other "
    "client to do so"
)
CURRENT_MISSING_QUEUES = (
    "proposed current version '{}' is missing active task queues from the current version; "
    "these would become unversioned if it is set as the current version"
)
RAMPING_MISSING_QUEUES = (
    "proposed ramping version '{}' is missing active task queues from the current version; "
    "these would become unversioned if it is set as the ramping version"
)


def version_string(deployment: str, build_id: str) -> str:
    return f"{deployment}{DELIMITER}{build_id}"


def v31_string(deployment: str, build_id: str) -> str:
    """The deprecated `version` fields' form ("deployment.build"), which the SDKs read."""
    return f"{deployment}{DELIMITER_V31}{build_id}"


def parse_version(version: str) -> tuple[str, str]:
    """(deployment name, build id) of "deployment:build" or the older "deployment.build"
    (the first delimiter wins, as Temporal's WorkerDeploymentVersionFromStringV31)."""
    cuts = [i for i in (version.find(DELIMITER), version.find(DELIMITER_V31)) if i >= 0]
    if not cuts:
        raise InvalidArgument(
            f'invalid version string "{version}", expected format is "<deployment_name>.<build_id>"'
        )
    at = min(cuts)
    name, build = version[:at], version[at + 1 :]
    if not name:
        raise InvalidArgument(f"deployment name is empty in version string {version}")
    if not build:
        raise InvalidArgument(f"build id is empty in version string {version}")
    return name, build


def ramp_threshold(workflow_id: str) -> float:
    """Where a workflow id falls in 0..100: it goes to a ramping version whose share is
    at least this (Temporal's calcRampThreshold, so the same ids ramp)."""
    return 100 * (fingerprint32(workflow_id.encode()) / (0xFFFFFFFF + 1))


@dataclass
class Version:
    build_id: str
    create_time: float
    # (task queue name, TaskQueueType) pairs whose pollers declared this version.
    task_queues: list[tuple[str, int]] = field(default_factory=list)
    status: int = VS.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE
    current_since: float = 0.0
    ramping_since: float = 0.0
    routing_update_time: float = 0.0
    first_activation_time: float = 0.0
    last_current_time: float = 0.0
    last_deactivation_time: float = 0.0
    ramp_percentage: float = 0.0
    # key -> base64 of a serialized temporal.api.common.v1.Payload
    metadata: dict[str, str] = field(default_factory=dict)
    drainage_status: int = 0
    drainage_changed: float = 0.0
    drainage_checked: float = 0.0
    last_modifier_identity: str = ""


@dataclass
class Deployment:
    name: str
    create_time: float
    versions: dict[str, Version] = field(default_factory=dict)  # by build id
    current: str = ""  # build id; "" is unversioned
    ramping: str = ""  # build id; "" with a percentage ramps to unversioned
    ramp_percentage: float = 0.0
    current_changed: float = 0.0
    ramping_changed: float = 0.0
    ramp_percentage_changed: float = 0.0
    revision: int = 0
    conflict_token: bytes = b""
    last_modifier_identity: str = ""
    manager_identity: str = ""
    deleted: bool = False
    db_version: int = 0

    # -- stored form -------------------------------------------------------------------

    def encode(self) -> bytes:
        doc = asdict(self)
        doc.pop("db_version")
        doc["conflict_token"] = base64.b64encode(self.conflict_token).decode()
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def decode(cls, blob: bytes, db_version: int) -> Deployment:
        doc: dict[str, Any] = json.loads(blob)
        versions = {}
        for build, v in doc.pop("versions").items():
            v["task_queues"] = [tuple(tq) for tq in v["task_queues"]]
            versions[build] = Version(**v)
        doc["conflict_token"] = base64.b64decode(doc["conflict_token"])
        return cls(**doc, versions=versions, db_version=db_version)

    # -- routing -----------------------------------------------------------------------

    def target(self, workflow_id: str) -> str:
        """The build id a new (or auto-upgrade) workflow task goes to; "" unversioned."""
        if self.ramp_percentage <= 0:
            return self.current
        if self.ramp_percentage >= 100:
            return self.ramping
        return self.ramping if ramp_threshold(workflow_id) <= self.ramp_percentage else self.current

    @property
    def ramping_set(self) -> bool:
        return bool(self.ramping) or self.ramp_percentage > 0

    # -- changes -----------------------------------------------------------------------

    def _touch(self, identity: str, now: float) -> None:
        self.last_modifier_identity = identity
        self.conflict_token = str(time.time_ns()).encode()
        self.revision += 1
        del now

    def _check(self, token: bytes, identity: str) -> None:
        if token and token != self.conflict_token:
            raise FailedPrecondition("conflict token mismatch")
        if self.manager_identity and self.manager_identity != identity:
            raise FailedPrecondition(MANAGER_MISMATCH.format(self.manager_identity, identity))

    def _missing_queues(self, build_id: str) -> bool:
        """Whether `build_id` lacks a task queue the current version serves."""
        current = self.versions.get(self.current)
        if current is None or not build_id or build_id == self.current:
            return False
        have = set(self.versions[build_id].task_queues) if build_id in self.versions else set()
        return bool(set(current.task_queues) - have)

    def register(self, build_id: str, queue: str, queue_type: int, now: float) -> bool:
        """A poller declared this version on this queue; True when that is news."""
        v = self.versions.get(build_id)
        if v is None:
            if len(self.versions) >= MAX_VERSIONS:
                raise FailedPrecondition(
                    f"cannot add version, already at max versions {MAX_VERSIONS}"
                )
            v = self.versions[build_id] = Version(build_id, now)
        if (queue, queue_type) in v.task_queues:
            return False
        v.task_queues.append((queue, queue_type))
        return True

    def set_current(
        self, build_id: str, token: bytes, identity: str, ignore_missing: bool, now: float
    ) -> tuple[bytes, str]:
        """Make `build_id` ("" unversioned) current; (new token, previous build id)."""
        if self.current == build_id and self.last_modifier_identity == identity:
            return self.conflict_token, self.current  # Temporal's "no change": success
        self._check(token, identity)
        if build_id and build_id not in self.versions:
            raise NotFound(VERSION_NOT_FOUND.format(build_id, self.name))
        if not ignore_missing and self.current and build_id and self._missing_queues(build_id):
            raise FailedPrecondition(
                CURRENT_MISSING_QUEUES.format(version_string(self.name, build_id))
            )
        previous = self.current
        if previous != build_id:
            self._leave(previous, now)
            self.current = build_id
            self.current_changed = now
            if build_id:
                v = self.versions[build_id]
                v.status = VS.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT
                v.current_since = v.last_current_time = v.routing_update_time = now
                v.first_activation_time = v.first_activation_time or now
                v.ramping_since = 0.0
                v.ramp_percentage = 0.0
                v.drainage_status = 0
            if self.ramping == build_id and self.ramping_set:
                # The ramping version became current: the ramp is over.
                self.ramping, self.ramp_percentage = "", 0.0
                self.ramping_changed = self.ramp_percentage_changed = now
        self._touch(identity, now)
        return self.conflict_token, previous

    def set_ramping(
        self,
        build_id: str,
        percentage: float,
        token: bytes,
        identity: str,
        ignore_missing: bool,
        now: float,
    ) -> tuple[bytes, str, float]:
        """Ramp `percentage` of new workflows to `build_id` ("" with 0: stop ramping);
        (new token, previous ramping build id, previous percentage)."""
        if not 0 <= percentage <= 100:
            raise InvalidArgument(f"Percentage {percentage:g} must be between 0 and 100")
        if (
            self.ramping == build_id
            and self.ramp_percentage == percentage
            and self.last_modifier_identity == identity
            and (self.ramping_set or not build_id)
        ):
            return self.conflict_token, self.ramping, self.ramp_percentage
        self._check(token, identity)
        if build_id and build_id == self.current:
            raise FailedPrecondition(
                f"Ramping version {version_string(self.name, build_id)} is already current"
            )
        if build_id and build_id not in self.versions:
            raise NotFound(VERSION_NOT_FOUND.format(build_id, self.name))
        if not ignore_missing and build_id and self._missing_queues(build_id):
            raise FailedPrecondition(
                RAMPING_MISSING_QUEUES.format(version_string(self.name, build_id))
            )
        prev_build, prev_pct = self.ramping, self.ramp_percentage
        unset = not build_id and percentage == 0
        if prev_build != build_id:
            self._leave(prev_build, now)
            self.ramping_changed = now
        if prev_pct != percentage:
            self.ramp_percentage_changed = now
        self.ramping = build_id
        self.ramp_percentage = 0.0 if unset else percentage
        if build_id:
            v = self.versions[build_id]
            if v.status != VS.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING:
                v.ramping_since = now
            v.status = VS.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING
            v.ramp_percentage = percentage
            v.routing_update_time = now
            v.first_activation_time = v.first_activation_time or now
            v.drainage_status = 0
        self._touch(identity, now)
        return self.conflict_token, prev_build, prev_pct

    def _leave(self, build_id: str, now: float) -> None:
        """`build_id` stops being current or ramping: it drains its pinned workflows."""
        v = self.versions.get(build_id)
        if v is None:
            return
        v.status = VS.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING
        v.drainage_status = 1  # VERSION_DRAINAGE_STATUS_DRAINING until checked
        v.drainage_changed = v.drainage_checked = now
        v.last_deactivation_time = v.routing_update_time = now
        v.current_since = v.ramping_since = 0.0
        v.ramp_percentage = 0.0

    def delete_version(self, build_id: str, skip_drainage: bool, has_pollers: bool) -> None:
        v = self.versions.get(build_id)
        name = version_string(self.name, build_id)
        if v is None:
            raise NotFound(VERSION_NOT_FOUND.format(build_id, self.name))
        if build_id in (self.current, self.ramping):
            raise FailedPrecondition(
                f"version '{name}' cannot be deleted since it is current or ramping"
            )
        if not skip_drainage and v.status == VS.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING:
            raise FailedPrecondition(f"version '{name}' cannot be deleted since it is draining")
        if has_pollers:  # even with skip_drainage, as Temporal
            raise FailedPrecondition(
                f"version '{name}' cannot be deleted since it has active pollers"
            )
        del self.versions[build_id]

    def delete(self) -> None:
        if self.versions:
            raise FailedPrecondition("deployment has versions, can't be deleted")
        self.deleted = True
