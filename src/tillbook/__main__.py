from tillbook.cli import main

main()
