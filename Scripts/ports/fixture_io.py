"""What the ported PyTorch programs in Scripts/ports share to write their fixtures into
Tests/RecurrentTests/Fixtures/ports: tensors as JSON objects, large weights as safetensors."""
import json
import os
import struct

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "RecurrentTests", "Fixtures", "ports")


def enc(t):
    """A tensor as {"shape": [...], "data": [...]} (row-major, Python floats)."""
    return {"shape": list(t.shape), "data": [float(x) for x in t.reshape(-1).tolist()]}


def write_json(name, value):
    with open(os.path.join(FIXTURES, name + ".json"), "w") as f:
        json.dump(value, f, separators=(",", ":"))


def write_safetensors(name, tensors):
    """`tensors` (name -> float tensor) as Fixtures/ports/<name>.safetensors, float32."""
    header, offset, blobs = {}, 0, []
    for key, value in tensors.items():
        data = value.detach().contiguous().float().numpy().astype("<f4").tobytes()
        header[key] = {"dtype": "F32", "shape": list(value.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(FIXTURES, name + ".safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
