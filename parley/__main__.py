"""`python -m parley`: the same command line as the `parley` console script."""

from parley.cli import main

main()
