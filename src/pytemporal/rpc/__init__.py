"""The seams between roles: which process serves a call, and how it gets there.

`redirector.Redirector` is the one place that decides serve-here-or-forward: for a
workflow it hands out a `history.client.HistoryClient`, for a task queue a
`matching.client.MatchingClient`, each either the in-process implementation or a
remote one (`remote.py`) that makes a typed internal call (`proto/internal/v1`) to
the owner, where `service.py` runs the owner's in-process implementation.
"""
