"""Online trackers (Trakt and Simkl): signing in (:mod:`.signin`), refreshing Trakt's
token, and delivering each play to the account's history."""
