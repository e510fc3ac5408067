"""Search over course content: chunks in PostgreSQL (full text) and Chroma (vectors), fused by rank."""
