"""The wizard's pages, one module per feature.

- ``steps``: step 1 (the restore point), step 2 (the details) and OK, which starts one
  operation; the as-you-type name check.
- ``point``: the custom point as typed (UTC and local) and the timeline of WAL events.
- ``previews``: the data at T, read-only, before OK.
- ``estimate``: how long the restore will take, in step 2 (per node and in all).
- ``operations``: the operation list and page, the bell's restores, Cancel.
- ``backups``: a group's "Backup and restore" page.
- ``post_restore``: the tasks after a restore (copy settings, mark done).

Every view opens with one guard line from ``guards`` that raises; ``guards.wizard_view``
is the one place that turns a refusal or a BackendError into its page and status.
"""
