"""One module per codec, each declaring its ``CODECS`` (:class:`hdmann.engine.codec.base.Codec`); the
registry that lists and dispatches them is :mod:`hdmann.engine.codecs`."""
