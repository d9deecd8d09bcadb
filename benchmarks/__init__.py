"""Speed figures (`make bench`): printed, never asserted in tests."""
