"""The engine, which knows no study: the data and its decoding policy, the codecs, typed configs,
the provenance-keyed cache and its stages, the parallel map, progress lines and provenance."""
