from certhygiene.cli.main import run

run()
