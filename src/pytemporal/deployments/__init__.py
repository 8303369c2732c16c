"""Worker deployments: which versions of a deployment exist, which is current and
which is ramping, stored as system rows; and the versioning of workflow runs."""
