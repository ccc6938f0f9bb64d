"""Version numbers that change generated code's meaning; all of them feed the fingerprint."""

# Bump when the in-sandbox harness changes what step code sees or how it runs.
HARNESS_VERSION = "1"
# Bump when the lockfile format changes; readers refuse a newer one.
LOCK_VERSION = 1
