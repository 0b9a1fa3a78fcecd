"""Export V-DPM to ONNX as two graphs that keep the streaming split (encoder once, decoder per query)."""
