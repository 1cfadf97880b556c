"""Shop health: the marketplace's own quality figures (A01/A21), the rulebooks, the
7-day projections and the watchdog. See the README's "Shop health" section."""
