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
        "servergroups/<str:backend>/<str:name>/post-restore/",
        views.post_restore,
        name="post_restore",
    ),
    path(
        "servergroups/<str:backend>/<str:name>/post-restore/copy-<str:what>/",
        views.copy_from_source,
        name="copy_from_source",
    ),
    path("operations/", views.operation_list, name="operation_list"),
    path("operations/<int:pk>/", views.operation_detail, name="operation_detail"),
]
