from django.urls import path

from . import views

urlpatterns = [
    path("drills/", views.fleet, name="drill_fleet"),
    path("drills/export.csv", views.export, {"fmt": "csv"}, name="drill_export_csv"),
    path("drills/export.json", views.export, {"fmt": "json"}, name="drill_export_json"),
    path("drills/<int:pk>/", views.detail, name="drill_detail"),
    path("drills/<int:pk>/cancel/", views.cancel, name="drill_cancel"),
    path("servergroups/<str:backend>/<str:name>/drills/", views.group, name="drill_group"),
]
