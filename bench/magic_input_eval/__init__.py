"""Magic input quality evaluation: plain-English requests for every node type, run
through ``generate_config`` and scored (``python -m bench.magic_input_eval``)."""
