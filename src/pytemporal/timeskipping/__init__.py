"""Time skipping: the clock, the skipper and the TestService of the test server mode."""
