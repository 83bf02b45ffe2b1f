"""Authorization: idTags (local list, cache, offline rules) and reservations."""
