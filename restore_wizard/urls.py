from django.urls import path

from .views import backups, estimate, operations, point, post_restore, previews, steps

urlpatterns = [
    path("servergroups/<str:backend>/<str:name>/restore/", steps.restore, name="restore_start"),
    path(
        "servergroups/<str:backend>/<str:name>/restore/details/",
        steps.restore_details,
        name="restore_details",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/check-name/",
        steps.check_name,
        name="restore_check_name",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/point/",
        point.restore_point,
        name="restore_point",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/timeline/",
        point.restore_timeline,
        name="restore_timeline",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/estimate/",
        estimate.restore_estimate,
        name="restore_estimate",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/preview/",
        previews.preview_start,
        name="restore_preview_start",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/preview/<str:preview_id>/",
        previews.preview_panel,
        name="restore_preview",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/preview/<str:preview_id>/query/",
        previews.preview_query,
        name="restore_preview_query",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/preview/<str:preview_id>/close/",
        previews.preview_close,
        name="restore_preview_close",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/post-restore/",
        post_restore.post_restore,
        name="post_restore",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/post-restore/copy-<str:what>/",
        post_restore.copy_from_source,
        name="copy_from_source",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/backup-and-restore/",
        backups.backup_and_restore,
        name="servergroup_backups",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/post-restore/mark-<str:task>/",
        post_restore.post_restore_mark,
        name="post_restore_mark",
    ),
    path("operations/", operations.operation_list, name="operation_list"),
    path("operations/running/", operations.operations_running, name="operations_running"),
    path("operations/<int:pk>/", operations.operation_detail, name="operation_detail"),
    path("operations/<int:pk>/banner/", operations.operation_banner, name="operation_banner"),
    path("operations/<int:pk>/cancel/", operations.operation_cancel, name="operation_cancel"),
]
