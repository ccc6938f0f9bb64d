from maisa.cli import main

main()
