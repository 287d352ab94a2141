"""The run report: the figures drawn from a run folder and the HTML page made from them."""
