from bi_agent.cli import main

main()
