"""Portal-wide records: what a user is told (notifications) and what was done (activity)."""

from django.conf import settings
from django.db import models


class Notification(models.Model):
    class Level(models.TextChoices):
        INFO = "info", "Information"
        SUCCESS = "success", "Success"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    link_text = models.CharField(max_length=100, blank=True)
    # A second link, e.g. a finished restore's post-restore tasks beside the new group.
    more_link = models.CharField(max_length=500, blank=True)
    more_link_text = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.title


class ActivityEvent(models.Model):
    """One thing a person (or the portal on their behalf) did, kept for audit."""

    class Result(models.TextChoices):
        STARTED = "started", "Started"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=60)
    backend = models.CharField(max_length=40, blank=True)
    target = models.CharField(max_length=300, blank=True)
    result = models.CharField(max_length=10, choices=Result.choices)
    detail = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target}: {self.result}"


class OpenPreview(models.Model):
    """A preview a user started and has not closed: what per-user slots count, what
    signing out closes, and what tells whose preview a request may touch.

    The backend removes a preview at its time-to-live on its own; a row can outlive
    it, so a count at the limit asks the backend which are still there.
    """

    backend = models.CharField(max_length=40)
    preview_id = models.CharField(max_length=100)
    group_name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="open_previews"
    )
    session_key = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["backend", "preview_id"], name="one_row_per_preview")
        ]

    def __str__(self) -> str:
        return f"preview {self.preview_id} of {self.group_name} ({self.user_id})"
