from campplanet.cli import main

main()
