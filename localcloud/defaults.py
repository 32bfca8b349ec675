"""The labels a localcloud group carries where Azure shows a subscription, a resource
group and a location. One set, read by the engine, the portal's backend and settings, the
pages and the CLI, so every place names a group's placement the same way."""

SUBSCRIPTION = "local"
RESOURCE_GROUP = "localcloud"
LOCATION = "local"
