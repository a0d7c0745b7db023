"""The book: the registry of datasets and chapters, the stage graph, the runner that builds stages
and executes notebooks, results and verdicts, the Sphinx extension, glue helpers and the CLI."""
