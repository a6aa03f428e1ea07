"""Hugging Face diffusion-LM checkpoints -> our ONNX model folders (docs/model-format.md, docs/byo-model.md).

    /usr/bin/python3 -m models.export.convert --checkpoint DIR --out DIR [--dtype fp32|fp16|int8|int4] ...

Modules: safetensors_io (pure numpy reader/writer), modeling (bidirectional Qwen2/Qwen3/LLaMA in PyTorch and the
graph heads), checkpoint (config/tokenizer/tensor-name handling per family, block-diffusion refusal, limits),
quantize (int8 / int4 quantisers and their ONNX nodes), onnx_export (tracing and weight streaming), convert (CLI,
progress lines), tiny (tiny test checkpoints), dropin_fixture (a tiny Optimum-layout ONNX folder for tests),
bench_dtypes + bench_run.mjs (per-dtype measurements at real shapes), quant_sensitivity, hf_reference
(comparison with transformers, for a machine that has it), ort_check.mjs (runs a graph in onnxruntime-node).
"""
