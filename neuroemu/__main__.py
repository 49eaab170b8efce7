"""``python -m neuroemu`` = the ``neuroemu`` command."""
from neuroemu.cli import main

main()
