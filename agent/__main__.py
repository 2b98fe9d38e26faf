"""`python -m agent …`: see agent/main.py."""
from agent.main import main

main()
