from django.urls import path

from . import views

urlpatterns = [
    path("servergroups/<str:backend>/<str:name>/restore/", views.restore, name="restore_start"),
    path(
        "servergroups/<str:backend>/<str:name>/restore/details/",
        views.restore_details,
        name="restore_details",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/check-name/",
        views.check_name,
        name="restore_check_name",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/point/",
        views.restore_point,
        name="restore_point",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/timeline/",
        views.restore_timeline,
        name="restore_timeline",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/preview/",
        views.preview_start,
        name="restore_preview_start",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/preview/<str:preview_id>/",
        views.preview_panel,
        name="restore_preview",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/preview/<str:preview_id>/query/",
        views.preview_query,
        name="restore_preview_query",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/restore/preview/<str:preview_id>/close/",
        views.preview_close,
        name="restore_preview_close",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/post-restore/",
        views.post_restore,
        name="post_restore",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/post-restore/copy-<str:what>/",
        views.copy_from_source,
        name="copy_from_source",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/backup-and-restore/",
        views.backup_and_restore,
        name="servergroup_backups",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/post-restore/mark-<str:task>/",
        views.post_restore_mark,
        name="post_restore_mark",
    ),
    path("operations/", views.operation_list, name="operation_list"),
    path("operations/running/", views.operations_running, name="operations_running"),
    path("operations/<int:pk>/", views.operation_detail, name="operation_detail"),
    path("operations/<int:pk>/banner/", views.operation_banner, name="operation_banner"),
    path("operations/<int:pk>/cancel/", views.operation_cancel, name="operation_cancel"),
]
