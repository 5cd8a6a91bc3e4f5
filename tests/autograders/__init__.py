# A package, so that its conftest.py is imported as `autograders.conftest` and the tests in tests/
# keep importing tests/conftest.py with `from conftest import ...`.
