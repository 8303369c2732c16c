"""Version 1 of the process-to-process messages; generated from `internal.proto`."""
