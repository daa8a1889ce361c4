"""A tiny LLaMA-architecture GGUF with random weights, for testing against a real llama-server.

2 layers, hidden size 64, a byte-level BPE vocabulary (256 byte tokens, merges, ChatML specials) and a
ChatML chat template: it loads in well under a second and answers gibberish, which is all the plumbing
tests need.
"""

from pathlib import Path

import numpy as np

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _byte_tokens() -> list[str]:
    """GPT-2's byte -> printable character map: byte-level BPE's base vocabulary."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    mapping = dict(zip(printable, chars))
    return [chr(mapping[b]) for b in range(256)]


def write_tiny_model(path: Path, seed: int = 0) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    tokens = _byte_tokens()
    merges = []
    for pair in ["Ġ t", "h e", "Ġ a", "i n", "e r", "o n", "r e", "Ġt he", "d e", "f Ġ", "r n", "u r", "Ġ (", "( )",
                 "Ġ =", "Ġ r", "e t", "re t", "ret ur", "retur n", "Ġ d", "Ġd e", "Ġde f", "i f", "Ġ i", "Ġi f"]:
        left, right = pair.split(" ")
        if left in tokens and right in tokens and left + right not in tokens:
            merges.append(pair)
            tokens.append(left + right)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    token_types = [gguf.TokenType.NORMAL] * len(tokens) + [gguf.TokenType.CONTROL] * len(specials)
    tokens += specials
    vocab, hidden, ff, heads, layers = len(tokens), 64, 128, 4, 2

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("benchlib-tiny")
    writer.add_context_length(2048)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(heads)
    writer.add_head_count_kv(heads)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab - 2)
    writer.add_eos_token_id(vocab - 1)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML)

    def tensor(name, *shape, scale=0.2):
        writer.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    tensor("token_embd.weight", vocab, hidden)
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(hidden, dtype=np.float32))
        for part in ("q", "k", "v", "output"):
            tensor(f"blk.{i}.attn_{part}.weight", hidden, hidden)
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(hidden, dtype=np.float32))
        tensor(f"blk.{i}.ffn_gate.weight", ff, hidden)
        tensor(f"blk.{i}.ffn_up.weight", ff, hidden)
        tensor(f"blk.{i}.ffn_down.weight", hidden, ff)
    writer.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
    tensor("output.weight", vocab, hidden)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    import sys

    print(write_tiny_model(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf")))
