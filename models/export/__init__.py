"""Hugging Face diffusion-LM checkpoints -> our ONNX model folders (docs/model-format.md, docs/byo-model.md).

    /usr/bin/python3 -m models.export.convert --checkpoint DIR --out DIR [--fp16 | --fp16-compute] ...

Modules: safetensors_io (pure numpy reader/writer), modeling (bidirectional Qwen2/LLaMA in PyTorch and the
graph heads), checkpoint (config/tokenizer/tensor-name handling per family), onnx_export (tracing and
weight streaming), convert (CLI), tiny (tiny test checkpoints), ort_check.mjs (runs a graph in onnxruntime-node).
"""
