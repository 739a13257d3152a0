# Shortcuts for bootstrap.sh, which does the work (and needs no make): see the README's Quickstart.
.PHONY: demo test bench clean

demo:
	bash bootstrap.sh demo

test:
	bash bootstrap.sh test

bench:
	bash bootstrap.sh bench

clean:
	rm -rf demo build dist *.egg-info
