"""Data shipped with csnlp: intent corpus, knowledge base, feedback corpus, example logs."""
