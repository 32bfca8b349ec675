"""Stand-ins for the clouds' HTTP APIs: the real SDKs run against them offline."""
