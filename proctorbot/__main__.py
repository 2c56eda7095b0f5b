from proctorbot.cli import main

main()
