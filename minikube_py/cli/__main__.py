"""`python -m minikube_py.cli …` = `minikube-py …` (used to run sub-commands from a child process)."""
from minikube_py.cli.main import main

if __name__ == "__main__":
    main(prog_name="minikube-py")
