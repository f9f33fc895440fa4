"""The core daemon: drivers wired to the domain, the scheduler loop, the local API."""
