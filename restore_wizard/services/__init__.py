"""Restores as the portal runs them, one module per part (import the part you need;
this package re-exports nothing, so no import runs in a circle through it).

- ``checks``: whether a point or a new name can be restored to (the form, the CLI, drills).
- ``operations``: start (a web request or the CLI), cancel, and recover restores whose
  worker died; the starter enqueues ``tasks.restore_operation_task``.
- ``runner``: run one restore to its end in the task worker: heartbeat, progress.
- ``outcomes``: how an operation ends (succeeded, failed, cancelled), with its
  notification and Activity log line; shared by the runner and the operations.
- ``post_restore``: a DBA's marks on the post-restore tasks.

The web request only validates, writes one ``RestoreOperation`` row and enqueues the
task in the same transaction. The worker does the work through the backend, writing
progress to the row; a watchdog hands restores whose worker died back to a worker.
"""
