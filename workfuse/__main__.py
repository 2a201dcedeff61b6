from workfuse.cli import main

main()
