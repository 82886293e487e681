from dr_lib.cli.main import run

run()
